"""The strings a storefront pixel sends for generated sessions: user agents and page URLs,
as varied as real traffic makes them.

Real user agents carry browser, OS and app versions and device models: in-app browsers
(Instagram, Facebook) alone bring thousands of distinct strings to a shop. Real landing
URLs carry a click id per paid visit (gclid, fbclid, ...), so nearly every paid landing
URL is unique, and browsing URLs run through a catalog of products and variants. The
pipeline has to stay fast on that, so the sample data has it too. Each string is drawn
part by part (versions, models, locales), each part skewed towards its common values the
way versions in use are.
"""

from __future__ import annotations

import string
from urllib.parse import quote

import numpy as np

# Parts of user agents, most common first. A tuple holds the spellings one version takes in
# different places of a user agent.
IOS_VERSIONS = [
    (version.replace(".", "_"), version)
    for version in [
        "18.1",
        "17.6",
        "18.0",
        "17.5",
        "17.4",
        "16.7",
        "18.2",
        "17.3",
        "16.6",
        "15.8",
        "17.2",
        "16.5",
    ]
]
IPHONE_MODELS = [
    f"iPhone{generation},{variant}" for generation in range(12, 18) for variant in range(1, 5)
]
IPAD_MODELS = [
    f"iPad{generation},{variant}" for generation in range(11, 17) for variant in range(1, 4)
]
ANDROID_VERSIONS = ["14", "13", "15", "12", "11", "10"]
PIXEL_MODELS = [
    "Pixel 8",
    "Pixel 7",
    "Pixel 8 Pro",
    "Pixel 7a",
    "Pixel 6",
    "Pixel 9",
    "moto g 5G",
    "OnePlus 12",
    "2201117TY",
    "CPH2581",
    "motorola edge 40",
]
GALAXY_MODELS = [
    f"SM-{series}{number}B"
    for series in "SAG"
    for number in (911, 918, 546, 536, 991, 996, 146, 256, 981)
]
ANDROID_BUILDS = [
    f"{letter}P1A.{year}{month:02d}05.0{patch}"
    for letter in "ATU"
    for year in (23, 24)
    for month in (3, 6, 9, 12)
    for patch in (11, 22)
]
CHROME_MAJORS = [str(major) for major in range(131, 115, -1)]
CHROME_BUILDS = [
    f"{build}.{patch}"
    for build in (6778, 6723, 6668, 6613, 6533, 6478)
    for patch in (69, 85, 91, 108, 116, 126, 139, 155)
]
FIREFOX_MAJORS = [str(major) for major in range(133, 114, -1)]
SAMSUNG_BROWSER_VERSIONS = ["26.0", "25.0", "24.0", "23.0", "22.0"]
# In-app browsers: (app version, its build number).
INSTAGRAM_VERSIONS = [
    (f"{major}.0.0.{minor}.{patch}", str(640_000_000 + major * 1_000 + minor))
    for major in range(356, 336, -1)
    for minor, patch in ((20, 104), (36, 112))
]
FACEBOOK_VERSIONS = [
    (f"{major}.0.0.{minor}.{patch}", str(650_000_000 + major * 1_000 + minor))
    for major in range(490, 470, -1)
    for minor, patch in ((38, 107), (51, 109))
]
LOCALES = [
    "en_US",
    "en_GB",
    "de_DE",
    "en_CA",
    "fr_FR",
    "en_AU",
    "nl_NL",
    "sv_SE",
    "es_US",
    "es_ES",
    "it_IT",
    "pl_PL",
]
CHROMEOS_PLATFORMS = [
    f"{major}.{minor}.0" for major in (16002, 15917, 15886, 15633, 15474) for minor in (44, 51, 70)
]

PARTS = {
    "ios": IOS_VERSIONS,
    "iphone": IPHONE_MODELS,
    "ipad": IPAD_MODELS,
    "android": ANDROID_VERSIONS,
    "pixel": PIXEL_MODELS,
    "galaxy": GALAXY_MODELS,
    "android_build": ANDROID_BUILDS,
    "chrome": CHROME_MAJORS,
    "chrome_build": CHROME_BUILDS,
    "firefox": FIREFOX_MAJORS,
    "samsung": SAMSUNG_BROWSER_VERSIONS,
    "instagram": INSTAGRAM_VERSIONS,
    "facebook": FACEBOOK_VERSIONS,
    "locale": LOCALES,
    "chromeos": CHROMEOS_PLATFORMS,
}

_IOS_WEBKIT = "Mozilla/5.0 ({device}; CPU {os} {{ios[0]}} like Mac OS X) AppleWebKit/605.1.15"
_IPHONE = _IOS_WEBKIT.format(device="iPhone", os="iPhone OS")
_IPAD = _IOS_WEBKIT.format(device="iPad", os="OS")
_CHROME_WEBKIT = "AppleWebKit/537.36 (KHTML, like Gecko)"

# Per device family of sample_data.USER_AGENTS: the browsers it is seen with and their
# shares. Fields in braces are drawn from PARTS.
BROWSERS = {
    "iphone": [
        (f"{_IPHONE} (KHTML, like Gecko) Version/{{ios[1]}} Mobile/15E148 Safari/604.1", 0.55),
        (
            f"{_IPHONE} (KHTML, like Gecko) CriOS/{{chrome}}.0.{{chrome_build}} Mobile/15E148 "
            "Safari/604.1",
            0.10,
        ),
        (
            f"{_IPHONE} (KHTML, like Gecko) Mobile/15E148 Instagram {{instagram[0]}} ({{iphone}}; "
            "iOS {ios[0]}; {locale}; {locale}; scale=3.00; 1179x2556; {instagram[1]})",
            0.17,
        ),
        (
            f"{_IPHONE} (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/{{facebook[0]}};"
            "FBBV/{facebook[1]};FBDV/{iphone};FBMD/iPhone;FBSN/iOS;FBSV/{ios[1]};FBSS/3;FBID/phone;"
            "FBLC/{locale};FBOP/5]",
            0.18,
        ),
    ],
    "ipad": [
        (f"{_IPAD} (KHTML, like Gecko) Version/{{ios[1]}} Mobile/15E148 Safari/604.1", 0.8),
        (
            f"{_IPAD} (KHTML, like Gecko) Mobile/15E148 [FBAN/FBIOS;FBAV/{{facebook[0]}};"
            "FBBV/{facebook[1]};FBDV/{ipad};FBMD/iPad;FBSN/iPadOS;FBSV/{ios[1]};FBSS/2;"
            "FBID/tablet;FBLC/{locale};FBOP/5]",
            0.2,
        ),
    ],
    "pixel": [
        # Chrome's reduced user agent: no model, no minor versions.
        (
            f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME_WEBKIT} Chrome/{{chrome}}.0.0.0 "
            "Mobile Safari/537.36",
            0.55,
        ),
        (
            f"Mozilla/5.0 (Linux; Android {{android}}; {{pixel}} Build/{{android_build}}; wv) "
            f"{_CHROME_WEBKIT} Version/4.0 Chrome/{{chrome}}.0.{{chrome_build}} Mobile "
            "Safari/537.36 [FB_IAB/FB4A;FBAV/{facebook[0]};]",
            0.25,
        ),
        (
            f"Mozilla/5.0 (Linux; Android {{android}}; {{pixel}} Build/{{android_build}}; wv) "
            f"{_CHROME_WEBKIT} Version/4.0 Chrome/{{chrome}}.0.{{chrome_build}} Mobile "
            "Safari/537.36 Instagram {instagram[0]} Android (34/{android}; 420dpi; 1080x2400; "
            "{pixel}; {locale}; {instagram[1]})",
            0.20,
        ),
    ],
    "galaxy": [
        (
            f"Mozilla/5.0 (Linux; Android {{android}}; {{galaxy}}) {_CHROME_WEBKIT} "
            "SamsungBrowser/{samsung} Chrome/{chrome}.0.0.0 Mobile Safari/537.36",
            0.45,
        ),
        (
            f"Mozilla/5.0 (Linux; Android 10; K) {_CHROME_WEBKIT} Chrome/{{chrome}}.0.0.0 "
            "Mobile Safari/537.36",
            0.30,
        ),
        (
            f"Mozilla/5.0 (Linux; Android {{android}}; {{galaxy}} Build/{{android_build}}; wv) "
            f"{_CHROME_WEBKIT} Version/4.0 Chrome/{{chrome}}.0.{{chrome_build}} Mobile "
            "Safari/537.36 [FB_IAB/FB4A;FBAV/{facebook[0]};]",
            0.25,
        ),
    ],
    "windows": [
        (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME_WEBKIT} Chrome/{{chrome}}.0.0.0 "
            "Safari/537.36",
            0.60,
        ),
        (
            f"Mozilla/5.0 (Windows NT 10.0; Win64; x64) {_CHROME_WEBKIT} Chrome/{{chrome}}.0.0.0 "
            "Safari/537.36 Edg/{chrome}.0.{chrome_build}",
            0.25,
        ),
        (
            "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{firefox}.0) Gecko/20100101 "
            "Firefox/{firefox}.0",
            0.15,
        ),
    ],
    "mac": [
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
            "(KHTML, like Gecko) Version/{ios[1]} Safari/605.1.15",
            0.55,
        ),
        (
            f"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) {_CHROME_WEBKIT} "
            "Chrome/{chrome}.0.0.0 Safari/537.36",
            0.35,
        ),
        (
            "Mozilla/5.0 (Macintosh; Intel Mac OS X 10.15; rv:{firefox}.0) Gecko/20100101 "
            "Firefox/{firefox}.0",
            0.10,
        ),
    ],
    "linux": [
        ("Mozilla/5.0 (X11; Linux x86_64; rv:{firefox}.0) Gecko/20100101 Firefox/{firefox}.0", 0.6),
        (
            f"Mozilla/5.0 (X11; Linux x86_64) {_CHROME_WEBKIT} Chrome/{{chrome}}.0.0.0 "
            "Safari/537.36",
            0.4,
        ),
    ],
    "chromebook": [
        (
            f"Mozilla/5.0 (X11; CrOS x86_64 {{chromeos}}) {_CHROME_WEBKIT} Chrome/{{chrome}}.0.0.0 "
            "Safari/537.36",
            1.0,
        ),
    ],
}


def _skewed_choice(rng: np.random.Generator, options: int, count: int) -> np.ndarray:
    """Indices into `options` values, the first the most common, with a long tail."""
    weights = 1.0 / np.arange(1, options + 1) ** 1.7
    return rng.choice(options, count, p=weights / weights.sum())


def _template_parts(template: str) -> list[str]:
    names = (field for _, field, _, _ in string.Formatter().parse(template) if field)
    return sorted({name.split("[")[0] for name in names})


def _render(rng: np.random.Generator, template: str, count: int) -> np.ndarray:
    """`count` strings of `template`, every field drawn from its part. Each distinct
    combination of parts is formatted once."""
    parts = _template_parts(template)
    drawn = np.stack([_skewed_choice(rng, len(PARTS[part]), count) for part in parts], axis=1)
    combinations, which = np.unique(drawn, axis=0, return_inverse=True)
    rendered = np.array(
        [
            template.format(**{part: PARTS[part][i] for part, i in zip(parts, row, strict=True)})
            for row in combinations
        ],
        dtype=object,
    )
    return rendered[which.reshape(-1)]


def user_agents(rng: np.random.Generator, family: str, count: int) -> np.ndarray:
    """`count` user agent strings of one device family (a key of BROWSERS)."""
    browsers = BROWSERS[family]
    shares = np.array([share for _, share in browsers])
    browser = rng.choice(len(browsers), count, p=shares / shares.sum())
    result = np.empty(count, dtype=object)
    for index, (template, _) in enumerate(browsers):
        chosen = browser == index
        result[chosen] = _render(rng, template, int(chosen.sum()))
    return result


# Page URLs. A catalog of products (some viewed with a variant chosen), collections,
# searches and pages; landings often come from a paid click that tags the URL.
PRODUCT_ADJECTIVES = [
    "trail",
    "alpine",
    "merino",
    "storm",
    "summit",
    "harbor",
    "canyon",
    "glacier",
    "meadow",
    "ridge",
    "coastal",
    "forest",
    "desert",
    "river",
]
PRODUCT_NOUNS = [
    "jacket",
    "socks",
    "tent",
    "boots",
    "beanie",
    "fleece",
    "backpack",
    "mug",
    "lantern",
    "blanket",
    "hoodie",
]
COLLECTIONS = [
    "all",
    "new",
    "sale",
    "bestsellers",
    "men",
    "women",
    "kids",
    "camping",
    "winter",
    "accessories",
    "gifts",
    "outlet",
]
SEARCH_TERMS = [
    "jacket",
    "rain jacket",
    "socks",
    "tent 2 person",
    "gift card",
    "boots size 10",
    "wool",
    "sale",
    "beanie",
    "backpack 30l",
    "mug",
    "hoodie black",
]
VARIANTS_PER_PRODUCT = 4
VARIANT_SHARE = 0.35

PRODUCTS = [f"{adjective}-{noun}" for noun in PRODUCT_NOUNS for adjective in PRODUCT_ADJECTIVES]
LANDING_PATHS = [
    "/",
    *(f"/collections/{c}" for c in COLLECTIONS),
    *(f"/products/{p}" for p in PRODUCTS),
]
BROWSING_PATHS = [
    *(f"/products/{p}" for p in PRODUCTS),
    *(f"/collections/{c}" for c in COLLECTIONS),
    *(f"/search?q={quote(term)}" for term in SEARCH_TERMS),
    "/cart",
    "/pages/shipping",
    "/pages/returns",
]

# The click id an ad platform appends to the URL of a paid visit, by canonical channel.
CLICK_ID_PARAMETERS = {
    ("google", "cpc"): "gclid",
    ("bing", "cpc"): "msclkid",
    ("fbig", "paid social"): "fbclid",
    ("tiktok", "paid social"): "ttclid",
    ("klaviyo", "email"): "_kx",
}
CAMPAIGNS = ["autumn", "bf-2026", "retargeting-7d", "new-arrivals", "brand", "prospecting"]


def landing_urls(
    rng: np.random.Generator,
    shop: str,
    sources: list[str | None],
    mediums: list[str | None],
    channels: list[tuple[str, str]],
) -> np.ndarray:
    """Each session's landing URL: a catalog path, its utm parameters as spelled (if any),
    a campaign, and the click id its ad platform adds."""
    paths = np.array(LANDING_PATHS, dtype=object)[
        _skewed_choice(rng, len(LANDING_PATHS), len(sources))
    ]
    campaigns = np.array(CAMPAIGNS, dtype=object)[_skewed_choice(rng, len(CAMPAIGNS), len(paths))]
    click_ids = rng.integers(0, 2**63, len(paths))
    urls = np.empty(len(paths), dtype=object)
    for i, (path, source, medium, channel) in enumerate(
        zip(paths, sources, mediums, channels, strict=True)
    ):
        parameters = []
        if source is not None:
            parameters.append(
                f"utm_source={quote(source)}&utm_medium={quote(medium)}&utm_campaign={campaigns[i]}"
            )
        click_parameter = CLICK_ID_PARAMETERS.get(channel)
        if click_parameter is not None:
            parameters.append(f"{click_parameter}={click_ids[i]:016x}")
        query = "?" + "&".join(parameters) if parameters else ""
        urls[i] = f"https://{shop}.example{path}{query}"
    return urls


def browsing_urls(rng: np.random.Generator, shop: str, count: int) -> np.ndarray:
    """URLs of the pages viewed after landing; a product is often viewed with a variant."""
    variant_urls = [
        f"/products/{product}?variant={40_000_000_000 + index * 10 + variant}"
        for index, product in enumerate(PRODUCTS)
        for variant in range(VARIANTS_PER_PRODUCT)
    ]
    pool = np.array(
        [f"https://{shop}.example{path}" for path in [*BROWSING_PATHS, *variant_urls]],
        dtype=object,
    )
    page = _skewed_choice(rng, len(BROWSING_PATHS), count)
    # Product pages come first in BROWSING_PATHS; their variants after all the paths.
    with_variant = (page < len(PRODUCTS)) & (rng.random(count) < VARIANT_SHARE)
    page[with_variant] = (
        len(BROWSING_PATHS)
        + page[with_variant] * VARIANTS_PER_PRODUCT
        + rng.integers(0, VARIANTS_PER_PRODUCT, int(with_variant.sum()))
    )
    return pool[page]

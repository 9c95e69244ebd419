"""One storefront hour, written in each tracker's event names: the story the tracker and
GA4 tests send, and its counts by hand."""

from __future__ import annotations

# Each tracker's names for the steps of the hour below. GA4 starts a session with
# session_start beside its first page_view: still one landing.
TRACKER_NAMES = {
    "shopify-shop": {
        "landing": ["page_viewed"],
        "page": "page_viewed",
        "product": "product_viewed",
        "cart": "product_added_to_cart",
        "checkout": "checkout_started",
        "order": "checkout_completed",
    },
    "ga4-shop": {
        "landing": ["session_start", "page_view"],
        "page": "page_view",
        "product": "view_item",
        "cart": "add_to_cart",
        "checkout": "begin_checkout",
        "order": "purchase",
    },
    "segment-shop": {
        "landing": ["Page"],
        "page": "Page",
        "product": "Product Viewed",
        "cart": "Product Added",
        "checkout": "Checkout Started",
        "order": "Order Completed",
    },
}

# One hour of three sessions: (session, step, minute past 10:00 UTC).
STORY = [
    ("one", "landing", 1),
    ("one", "page", 5),
    ("one", "product", 6),
    ("one", "product", 8),
    ("one", "cart", 9),
    ("one", "checkout", 12),
    ("one", "order", 20),
    ("two", "landing", 3),
    ("two", "product", 4),
    ("three", "landing", 30),
    ("three", "Scroll Depth", 31),  # no tracker's funnel name: unmapped everywhere
]
# Counted by hand from STORY: a landing per session, the second page view not one.
EXPECTED_TOTALS = {
    "landing_page_views": 3,
    "product_views": 3,
    "add_to_cart": 1,
    "checkout_started": 1,
    "checkout_completed": 1,
}

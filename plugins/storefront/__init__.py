"""The storefront's checkout and order pages: address, review, payment, 3-D Secure,
confirmation, the order's secret link and the account's order history. Built on the
kernel's checkout unit (``mercato.place_order`` …), like any storefront a shop writes;
``mercato.plugins = … no:storefront`` leaves a headless shop with the JSON API."""

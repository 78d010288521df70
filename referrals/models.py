"""Models of this app arrive with its issue; see ../shared/PRODUCT.md."""

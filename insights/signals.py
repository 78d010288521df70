"""Receivers that keep advocacy scores current after the events that change them."""

"""The advocate's pages of the journey: offers, proof, impact, onboarding; and the public
invitation page."""

urls: list = []
public_urls: list = []

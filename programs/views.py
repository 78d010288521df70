"""Manager pages of programs, asks, assignments, invitations and outcomes."""

urls: list = []

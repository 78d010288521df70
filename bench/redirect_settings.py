"""Settings of the /r/ benchmark's server (bench/redirect.py): the project's settings and
middleware unchanged, with a URLconf that adds the bare view to compare against, a stream
and cache keys of the benchmark's own. Never used by the site itself."""

from advocacy.settings import *  # noqa: F403

ROOT_URLCONF = "bench.redirect_urls"
CLICK_STREAM = "bench:referrals:clicks"
CACHES["default"]["KEY_PREFIX"] = "bench-redirect"  # noqa: F405

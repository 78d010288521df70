"""Routes of the programs app. ``manager`` is mounted at /w/<slug>/, ``portal`` at
/portal/<slug>/ and ``public`` at the site root; API resources are registered in
advocacy/api/urls.py."""



from . import portal as programs_portal
from . import views

manager: list = [*views.urls]
portal: list = [*programs_portal.urls]
public: list = [*programs_portal.public_urls]



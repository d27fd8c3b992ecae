"""Register a deal: the form a partner opens from its registration link, without an account.

Reachable signed out (isv/ui/nav.py PUBLIC_PAGES): it shows nothing but the form, and only
to an address carrying a live link's token.
"""

from isv.ui import registration

registration.public_form()

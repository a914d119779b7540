"""The Sessions page: the list of sessions, its search and filters (widgets), and the controller that carries out
what is asked on it."""

from tbdesktop.ui.sessions_page.page import SessionsPage
from tbdesktop.ui.sessions_page.session_list import day_title

__all__ = ["SessionsPage", "day_title"]

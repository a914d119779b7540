"""One session on screen: the view (``view.py``) renders it and emits what the user asks for; its controller
(``controller.py``) loads it and does what is asked through the services."""

from tbdesktop.ui.session_view.bars import ConsentBar, SpeakersBar
from tbdesktop.ui.session_view.controller import SessionController
from tbdesktop.ui.session_view.header import SessionHeader, day_month_year
from tbdesktop.ui.session_view.view import SessionView

__all__ = ["ConsentBar", "SessionController", "SessionHeader", "SessionView", "SpeakersBar", "day_month_year"]

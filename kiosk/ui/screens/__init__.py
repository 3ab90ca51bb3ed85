"""The kiosk's screens: a small state machine driven by KioskApp."""

from kiosk.ui.screens.attract import AttractScreen
from kiosk.ui.screens.countdown import CountdownScreen, FlashScreen
from kiosk.ui.screens.error import ErrorScreen
from kiosk.ui.screens.processing import ProcessingScreen
from kiosk.ui.screens.reconnecting import ReconnectingScreen
from kiosk.ui.screens.result import ResultScreen
from kiosk.ui.screens.session import SessionScreen

SCREENS = (
    AttractScreen,
    CountdownScreen,
    FlashScreen,
    ProcessingScreen,
    ResultScreen,
    ErrorScreen,
    ReconnectingScreen,
    SessionScreen,
)

__all__ = ["SCREENS"]

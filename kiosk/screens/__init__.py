"""The kiosk's screens: a small state machine driven by KioskApp."""

from kiosk.screens.attract import AttractScreen
from kiosk.screens.countdown import CountdownScreen, FlashScreen
from kiosk.screens.error import ErrorScreen
from kiosk.screens.processing import ProcessingScreen
from kiosk.screens.reconnecting import ReconnectingScreen
from kiosk.screens.result import ResultScreen

SCREENS = (AttractScreen, CountdownScreen, FlashScreen, ProcessingScreen, ResultScreen,
           ErrorScreen, ReconnectingScreen)

__all__ = ["SCREENS"]

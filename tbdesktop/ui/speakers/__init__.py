"""Speaker corrections in the window: dialogs, the speakers bar's actions, the regenerate banner, the controller."""

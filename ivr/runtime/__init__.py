"""What calls run on, whoever runs them: the compiled flows in use (``library``), the
interpreter of the dialog engine's actions (``conversation``) and the live shell around the
hearing core (``listener``). The ARI application and the simulator are both built on it."""

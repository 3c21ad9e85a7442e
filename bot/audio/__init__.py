"""Audio for WhatsApp: turning a teammate's clip into a voice note (`voice`)."""

"""FlowPilot's AI layer: one provider module, one cached call path (``chat_call_cached``)."""

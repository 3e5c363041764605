"""Router: page config, who is signed in, the pages their role may open, the sidebar, then the selected page."""

from __future__ import annotations

import streamlit as st

from dashboard.ui.access import navigation, session_access
from dashboard.ui.components import backend_sidebar

st.set_page_config(page_title="HITL Studio", page_icon=":material/handshake:", layout="wide")
access = session_access()  # with sign-in configured, nobody off the allow-list gets past this line

pages = {
    "Overview": [
        st.Page("views/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("views/inbox.py", title="Inbox", icon=":material/inbox:"),
    ],
    "Workflows": [
        st.Page("views/ingestion.py", title="Ingestion", icon=":material/group_add:"),
        st.Page("views/features.py", title="Feature dropping", icon=":material/filter_alt:"),
        st.Page("views/approval.py", title="Artifact approval", icon=":material/verified:"),
        st.Page("views/insights.py", title="Marvin insights", icon=":material/psychology:"),
        st.Page("views/autohelper.py", title="Sentiment autohelper", icon=":material/sentiment_satisfied:"),
        st.Page("views/labelling.py", title="Crowd labelling", icon=":material/how_to_vote:"),
        st.Page("views/crowd_results.py", title="Crowd results", icon=":material/table_chart:"),
    ],
}
page = navigation(pages, access)
backend_sidebar(access)
page.run()

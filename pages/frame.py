"""The frame around every page: navigation, page settings, the session's scenario, the sidebar.

app.py runs the frame. A page opened without it (on a server's first visit straight to a page's
link, Streamlit may run the page file alone, as in its older pages-folder mode) hands itself to
the frame, so every page is always drawn inside it.
"""

from __future__ import annotations

import threading
from pathlib import Path

import streamlit as st

from pages import parts, presentation, sidebar, state

PAGES = [
    ("pages/home.py", "Home", ":material/home:", "home"),
    ("pages/design.py", "Design the deal", ":material/tune:", "design"),
    ("pages/projections.py", "Projections", ":material/monitoring:", "projections"),
    ("pages/risk.py", "Risk", ":material/warning:", "risk"),
    ("pages/compare.py", "Saved and compared", ":material/compare_arrows:", "compare"),
    ("pages/evidence.py", "Evidence", ":material/menu_book:", "evidence"),
    ("pages/data.py", "Data", ":material/database:", "data"),
]
# Screens from a 1024x768 projector to a wide monitor: a tile's, control's or button's words wrap (and a
# tile's value shrinks) to
# their box instead of being cut to "…"; the page's side margins shrink on narrow screens; columns
# of controls or tiles too narrow to read wrap onto the next line.
SCREEN_STYLE = """<style>
[data-testid="stMetric"] { container-type: inline-size; }
.stMarkdownEllipsis, .stMarkdownEllipsis p { white-space: normal; overflow: visible; text-overflow: clip; }
[data-testid="stMetricValue"] p { font-size: clamp(1.05rem, 12cqi, 2.1rem); line-height: 1.15; overflow-wrap: normal; }
[data-testid="stMetricLabel"] p { line-height: 1.3; overflow-wrap: normal; word-break: normal; hyphens: auto; }
.st-key-design-live { position: sticky; top: 3.75rem; }
[data-testid="stTabs"] [role="tablist"] { flex-wrap: wrap; overflow-x: visible; row-gap: 0.25rem; }
.st-key-design-live [data-testid="stColumn"] { min-width: min(9rem, 100%); }
[class*="st-key-home-cards"] [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
[class*="st-key-home-cards"] [data-testid="stColumn"] { min-width: min(13rem, 100%); }
[class*="st-key-home-cards"] h3 { font-size: 1.4rem; overflow-wrap: anywhere; }
h1, h2, h3 { overflow-wrap: normal; word-break: normal; }
@media (max-width: 1300px) {
  [data-testid="stMainBlockContainer"] { padding-left: 1.5rem; padding-right: 1.5rem; }
  [data-testid="stHorizontalBlock"] { flex-wrap: wrap; }
  [data-testid="stColumn"] { min-width: min(6.5rem, 100%); }
}
</style>"""
# When the connection comes back after it was lost (the server restarted, or nginx moved this browser
# to another replica), the page is opened again from its address, which carries the design and the
# open tab. A new server session has not seen this page's widgets, so without it the first move
# after a reconnection would be lost. And a page opened from another (a template started from a
# card far down Home) opens at its top: Streamlit keeps the scroll of the page left.
RECONNECT = """<script>
(() => {
  if (window.carelabReconnect) return;
  window.carelabReconnect = true;
  let lost = false;
  new MutationObserver(() => {
    const state = document.querySelector('[data-testid="stApp"]')?.dataset.testConnectionState;
    if (state && state !== "CONNECTED" && state !== "INITIAL") lost = true;
    else if (state === "CONNECTED" && lost) window.location.reload();
  }).observe(document.body, {attributes: true, subtree: true, attributeFilter: ["data-test-connection-state"]});
  let page = location.pathname;
  setInterval(() => {
    if (location.pathname === page) return;
    page = location.pathname;
    document.querySelector('[data-testid="stMain"]')?.scrollTo(0, 0);
  }, 100);
})();
</script>"""
ICON = str(Path(__file__).resolve().parent.parent / "assets" / "icon.png")  # served by the app: offline rooms exist
_inside = threading.local()  # set while the frame runs a page (each script run has its own thread)


FRAME_PAGES = "frame-pages"


def pages_of_the_app() -> list:
    pages = [st.Page(path, title=title, icon=icon, url_path=url) for path, title, icon, url in PAGES[1:]]
    home = PAGES[0]
    # Home is served at "/" (the default page, whose own path is only its identity) and at /home.
    pages.insert(0, st.Page(home[0], title=home[1], icon=home[2], url_path="start", default=True))
    pages.append(st.Page(home[0], title=home[1], url_path=home[3], visibility="hidden"))
    return pages


def run() -> None:
    """Draw the frame and run the chosen page inside it."""
    st.set_page_config(page_title="Care Models Lab", page_icon=ICON, layout="wide")
    if FRAME_PAGES not in st.session_state:  # built once a session (a page object is not shared between sessions)
        st.session_state[FRAME_PAGES] = pages_of_the_app()
    pages = st.session_state[FRAME_PAGES]
    st.html(SCREEN_STYLE + RECONNECT, unsafe_allow_javascript=True)  # one element a run, not two
    presenting = state.presenting()
    page = st.navigation(pages, position="hidden" if presenting else "sidebar")
    state.mirror_in_url()  # every page starts with a scenario: its link's, one chosen, or Salford's
    if page.url_path == PAGES[0][3]:  # /home is Home: shown at its one address, so the sidebar marks it
        st.switch_page(pages[0])
    for warning in state.link_warnings():
        st.warning(parts.plain(warning), icon=":material/link_off:")  # a link's text is shown as it is, never as markup
    if presenting:
        presentation.show()
        return
    sidebar.draw()
    _inside.active = True
    try:
        page.run()
    finally:
        _inside.active = False


def ensure() -> None:
    """First line of every page: run inside the frame, or hand over to it and stop."""
    if not getattr(_inside, "active", False):
        run()
        st.stop()

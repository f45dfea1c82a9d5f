"""Saved designs: open, manage and compare them; the facilitator's view of a group."""

from collections.abc import Callable

import streamlit as st

from lib import catalogue, charts, saved, views
from lib.scenario import Scenario, ScenarioError, usable_templates
from pages import frame, parts, state

frame.ensure()

CURRENT = "Your design, as it stands"
st.title("Saved designs and comparisons")
cat = state.reference()
try:
    listing = saved.listing()
except saved.SavedError as exc:  # the store is unreachable or busy: say so, change nothing
    st.error(f"The saved designs cannot be read just now: {parts.plain(str(exc))}.", icon=":material/cloud_off:")
    st.stop()
parts.refused_input()

# ---- the facilitator's view -----------------------------------------------------------------------
st.subheader("A group's designs, ranked", anchor=False)
groups = sorted({g for g in listing["group"] if isinstance(g, str)})
if groups:
    left, right = st.columns(2)
    group = left.selectbox("Group", groups, key="compare-group")
    members = {n: saved.load(n)[0].scenario for n in listing.loc[listing["group"] == group, "name"]}
    ranking = views.compare_table({n: state.projection(s).run for n, s in members.items()})
    headline = right.selectbox(
        "Rank on",
        [c for c in ranking.columns if c not in ("scenario", "template", "years")],
        format_func=views.COMPARE_LABELS.get,
        key="compare-rank",
    )
    lower_is_better = headline.endswith("chance")
    ranked = ranking.sort_values(headline, ascending=lower_is_better).reset_index(drop=True)
    ranked.insert(0, "rank", range(1, len(ranked) + 1))
    ranked = ranked[["rank", "scenario", headline, *[c for c in ranked.columns if c not in ("rank", "scenario", headline)]]]
    parts.headline_table(ranked, "ranked")
else:
    st.caption("No design has been saved in a group yet: save one from the Design page with a group such as “Table 3”.")

# ---- compare two to four ---------------------------------------------------------------------------
st.subheader("Compare two to four designs", anchor=False)
choices = [CURRENT, *listing["name"]]


def named(template_id: str) -> str:
    return f"Template: {cat.template(template_id).info['name']}"


usable = usable_templates()[0]
templates = {named(t): t for t in usable}
choices += list(templates)
today = [  # today's arrangements with the vanguard each resembles (data/templates.yaml, `equivalent`)
    info for t in usable
    if (info := cat.template(t).info).get("era") == catalogue.ERA_TODAY and info.get("equivalent") in cat.templates
]  # fmt: skip
pairs = {named(info["id"]): named(info["equivalent"]) for info in today}
because = {named(info["id"]): info.get("equivalent_because") or "" for info in today}


def set_beside(chosen: str) -> None:
    st.session_state["compare-picked"] = [chosen, pairs[chosen]]


if pairs:
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    chosen = left.selectbox(
        "Set one of today's arrangements beside the vanguard it resembles", list(pairs), key="compare-pair",
        format_func=lambda c: f"{c.removeprefix('Template: ')} · beside {pairs[c].removeprefix('Template: ')}",
    )  # fmt: skip
    right.button("Compare these two", key="compare-pair-go", on_click=set_beside, args=(chosen,))
    st.caption(f"Why this pair: {because[chosen]}.")
picked = st.multiselect("Designs", choices, max_selections=4, key="compare-picked", placeholder="Choose two to four")


def scenario_of(choice: str) -> Scenario:
    if choice == CURRENT:
        return state.current_scenario()
    if choice in templates:
        return state.template(templates[choice]).scenario
    return saved.load(choice)[0].scenario


if len(picked) >= 2:
    scenarios = {c: scenario_of(c) for c in picked}
    runs = {c: state.projection(s).run for c, s in scenarios.items()}
    parts.headline_table(views.compare_table(runs), "compare-headline")
    for measure, title, unit in (
        ("budget", "Budget by contract year (P50)", "£m a year"),
        ("cost", "Projected cost by contract year (P50)", "£m a year"),
        ("provider_cumulative", "Provider side's cumulative position against its failure line", "£m, cumulative"),
        ("commissioner_cumulative", "Commissioners' cumulative position", "£m, cumulative"),
        ("emergency_admissions", "Emergency admissions against no change (P50)", "per 1,000 population"),
    ):
        hover = "%{y:,.1f}" if measure == "emergency_admissions" else charts.MONEY_HOVER
        parts.chart(
            charts.compare_lines(runs, measure, title, unit, hover),
            lambda measure=measure: views.yearly_side_by_side(runs, measure),
            "P50 of each design's simulations; each design keeps its colour and line style.",
            f"compare-{measure}",
        )  # no query offered: the SQL console holds your own design, not the designs compared here
    st.markdown("**Only the assumptions that differ**")
    differ = views.differing_assumptions(scenarios, state.reference())  # settings and values in words
    st.dataframe(differ.rename(columns={"setting": "Setting"}), hide_index=True, width="stretch", key="compare-differ")
else:
    st.caption("Choose at least two designs: saved ones, templates, or your design as it stands.")

# ---- open and manage ---------------------------------------------------------------------------------
def noted(note: str | Callable[[object], str], action: Callable[[], object]) -> Callable[[], object]:
    """`action`, leaving `note` (or what it makes of the action's result) to be shown once the page is
    drawn again: a change says what it did."""

    def act() -> object:
        done = action()
        st.session_state["manage-note"] = note(done) if callable(note) else note
        return done

    return act


st.subheader("Open or manage a saved design", anchor=False)
if note := st.session_state.pop("manage-note", None):
    st.success(parts.plain(note), icon=":material/check:")
if listing.empty:
    st.caption("Nothing saved yet.")
else:
    names = {tid: parts.template_name(tid) for tid in set(listing["template"])}
    st.dataframe(
        listing.drop(columns=["reference_stamp", "app_version"], errors="ignore").assign(
            template=listing["template"].map(names), group=listing["group"].fillna("")
        ),
        hide_index=True,
        width="stretch",
        key="saved-listing",
        column_config={"name": "Design", "group": "Group", "template": "Template", "saved_at": "Saved"},
    )  # the stamp and app version are in each design's details, and in its export
    name = st.selectbox("Saved design", list(listing["name"]), key="manage-name")
    opened, changes = saved.load(name)
    c1, c2, c3, c4 = st.columns(4)
    if c1.button("Open it", key="manage-open", icon=":material/open_in_new:"):
        state.set_scenario(opened.scenario)
        for change in changes:
            st.warning(change)
        st.switch_page("pages/design.py")
    c2.download_button(
        "Export as JSON", saved.export(name), file_name=f"{name}.json", mime="application/json", key="manage-export"
    )
    new_name = c3.text_input("New name", key="manage-new-name")
    if c3.button("Rename", key="manage-rename") and new_name:
        parts.attempt(lambda: saved.rename(name, new_name))
    if c3.button("Duplicate", key="manage-duplicate") and new_name:
        parts.attempt(lambda: saved.duplicate(name, new_name))
    if c4.button("Delete", key="manage-delete", icon=":material/delete:"):
        st.session_state["manage-delete-pending"] = name
    if st.session_state.get("manage-delete-pending") == name:
        parts.confirm(
            "manage-delete-pending",
            f"Delete **{parts.plain(name)}**? It can be restored for {saved.KEEP_DAYS} days from the list below.",
            ("Yes, delete it", "manage-delete-yes"), ("No, keep it", "manage-delete-no"),
            noted(f"Deleted {name}: it can be restored for {saved.KEEP_DAYS} days below.", lambda: saved.delete(name)),
        )  # fmt: skip
    for change in changes:
        st.caption(parts.plain(change))

uploaded = st.file_uploader("Import a design exported as JSON", type=["json"], key="import-file", max_upload_size=1)
if uploaded is not None and st.button("Import", key="import-go"):
    text = uploaded.getvalue().decode("utf-8", errors="replace")
    try:
        saved.import_text(text)
    except saved.NameTaken as taken:
        st.session_state["import-pending"] = (taken.name, text)
    except (saved.SavedError, ScenarioError) as exc:
        st.error(parts.plain(str(exc)), icon=":material/error:")
    else:
        st.rerun()
if pending := st.session_state.get("import-pending"):
    taken_name, text = pending
    parts.confirm(
        "import-pending",
        f"A design is already saved as **{parts.plain(taken_name)}**. Replace it with the imported one? The one it "
        f"replaces can be restored for {saved.KEEP_DAYS} days.",
        ("Replace it", "import-replace"), ("Cancel the import", "import-cancel"),
        lambda: saved.import_text(text, replace=True),
    )  # fmt: skip

# ---- replaced and deleted: the bin -----------------------------------------------------------------
bin_ = saved.history()
with st.expander(f"Replaced and deleted designs ({len(bin_)}, kept {saved.KEEP_DAYS} days)", key="bin-open"):
    if bin_.empty:
        st.caption("Nothing replaced or deleted in the last thirty days.")
    else:
        st.dataframe(bin_, hide_index=True, width="stretch", key="bin-listing")
        labels = {
            int(r.version): f"{r.name} ({r.why} {r.retired_at:%d %b %H:%M}, version {int(r.version)})" for r in bin_.itertuples()
        }
        version = st.selectbox("Design to restore", list(labels), format_func=labels.get, key="bin-version")
        restore_as = st.text_input("Restore as (empty: its own name)", key="bin-name", max_chars=80)
        if st.button("Restore it", key="bin-restore", icon=":material/restore_from_trash:"):
            restore = lambda: saved.restore(version, restore_as.strip() or None)  # noqa: E731
            parts.attempt(noted(lambda kept: f"Restored {kept.name}.", restore))

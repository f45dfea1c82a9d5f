"""Data: the tables behind every chart with their dictionary, a guarded SQL console, sweeps, and a
place's own baseline made into a custom template."""

import streamlit as st

from lib import baseline, charts, dictionary, export, readings, sql, sweep
from pages import frame, parts, state

frame.ensure()

TAB_KEY = parts.DATA_TAB
TABS = ["Tables", "SQL console", "Sweep", "Your own baseline"]
EXAMPLE_QUERY = "SELECT year, avg(cost) AS mean_cost, avg(budget) AS mean_budget\nFROM sim_year GROUP BY year ORDER BY year"
IN_APP_COMBINATIONS = 100  # larger sweeps: python -m lib sweep (every core)
SWEEPABLE = {
    "risk.gain_share": "Gain share",
    "risk.loss_share": "Loss share",
    "risk.withhold": "Outcome withhold",
    "risk.neutral_band": "Neutral band",
    "lead.reserves_gbp_m": "Provider reserves (£m)",
    "contract.funding_growth": "Funding growth a year",
    "contract.bid_discount": "Bid below the maximum price",
    "contract.years": "Contract length (years)",
}

scenario = state.current_scenario()
projection = state.projection(scenario)
run = projection.run
st.title("Data")
st.caption(
    "The reference data, this design's projection and the saved scenarios, as the DuckDB tables the charts read. "
    "Money in £m; contract years count from 1."
)
tabs = parts.tabs(TABS, TAB_KEY)


with tabs[0]:
    if tabs[0].open:
        entries = projection.figure("dictionary", lambda: dictionary.dictionary(run))
        names = list(dict.fromkeys(entries["table"]))
        table = st.selectbox(
            "Table", names, key="data-table",
            format_func=lambda t: f"{t} ({entries.loc[entries['table'] == t, 'group'].iloc[0]})",
        )  # fmt: skip
        st.dataframe(
            entries[entries["table"] == table][["column", "type", "unit", "meaning", "source"]],
            hide_index=True, width="stretch", key="data-dictionary",
        )  # fmt: skip
        try:
            preview = sql.run_sql(f'SELECT * FROM "{table}" LIMIT 100', run).frame
        except sql.SqlRefused as exc:
            st.error(parts.plain(str(exc)), icon=":material/error:")
            preview = entries.iloc[0:0]
        st.markdown(f"**First {len(preview)} rows**")
        st.dataframe(preview, hide_index=True, width="stretch", key="data-preview")
        whole = lambda: sql.whole_table(table, run)  # noqa: E731
        left, right = st.columns(2)
        left.download_button("Download as CSV", lambda: export.csv_bytes(whole()), f"{table}.csv", "text/csv", key="data-csv")
        parquet = lambda: export.parquet_bytes(whole())  # noqa: E731
        right.download_button("Download as Parquet", parquet, f"{table}.parquet", "application/octet-stream", key="data-parquet")
        st.caption("The whole table, written when you click. Query it in the SQL console under the same name.")

with tabs[1]:
    if tabs[1].open:
        st.markdown(
            "One `SELECT` (or `WITH … SELECT`) at a time over the tables listed under *Tables*: read-only, "
            f"at most {sql.ROW_LIMIT:,} rows, stopped after {sql.TIME_LIMIT_S:g} seconds. "
            "Files, settings and changes are refused."
        )
        st.session_state.setdefault(parts.SQL_KEY, EXAMPLE_QUERY)
        query = st.text_area("Query", key=parts.SQL_KEY, height=140)
        if st.button("Run the query", key="data-sql-run", type="primary") or st.session_state.get(parts.SQL_RAN) == query:
            st.session_state[parts.SQL_RAN] = query
            try:
                found = sql.run_sql(query, run)
            except sql.SqlRefused as exc:
                st.error(parts.plain(str(exc)), icon=":material/block:")
            else:
                note = f" (only the first {sql.ROW_LIMIT:,} are shown)" if found.truncated else ""
                st.caption(f"{len(found.frame):,} rows in {found.seconds * 1000:,.0f} ms{note}.")
                st.dataframe(found.frame, hide_index=True, width="stretch", key="data-sql-result")
                st.download_button(
                    "Download the result (CSV)", export.csv_bytes(found.frame), "query.csv", "text/csv", key="data-sql-csv"
                )

with tabs[2]:
    if tabs[2].open:
        st.markdown(
            "Two terms of this design over a grid of values, every combination projected with the design's seed. "
            f"Up to {IN_APP_COMBINATIONS} combinations here; larger grids: `python -m lib sweep` (every core)."
        )
        from_file = st.file_uploader("Or open a sweep file (from python -m lib sweep)", type=["parquet"], key="sweep-file")
        try:
            if from_file is not None:
                swept = sweep.read_file(from_file.getvalue())
                swept_paths = sweep.grid_columns(swept)
                c1, c2 = st.columns(2)
                x_path = c1.selectbox("Across", swept_paths, key="sweep-file-x")
                y_path = c2.selectbox("Down", swept_paths, index=min(1, len(swept_paths) - 1), key="sweep-file-y")
                for other in (p for p in swept_paths if p not in (x_path, y_path)):  # hold the other terms fixed
                    value = st.selectbox(f"{other} held at", sorted(swept[other].unique()), key=f"sweep-file-{other}")
                    swept = swept[swept[other] == value]
            else:
                c1, c2 = st.columns(2)
                x_path = c1.selectbox("Across", list(SWEEPABLE), format_func=SWEEPABLE.get, key="sweep-x")
                x_values = c1.text_input("Values (fractions: 0.25 = 25%)", "0,0.25,0.5,0.75,1", key="sweep-x-values")
                y_path = c2.selectbox("Down", list(SWEEPABLE), index=1, format_func=SWEEPABLE.get, key="sweep-y")
                y_values = c2.text_input("Values ", "0,0.25,0.5,0.75,1", key="sweep-y-values")
                if x_path == y_path:
                    raise sweep.SweepError("Pick two different terms.")
                grid = sweep.parse_grid([f"{x_path}={x_values}", f"{y_path}={y_values}"])
                if len(grid[x_path]) * len(grid[y_path]) > IN_APP_COMBINATIONS:
                    raise sweep.SweepError(f"At most {IN_APP_COMBINATIONS} combinations here: use python -m lib sweep.")
                swept = projection.figure(f"sweep-{grid}", lambda: sweep.sweep(scenario, grid, workers=1))
            if x_path == y_path:
                raise sweep.SweepError("Pick two different terms.")
        except sweep.SweepError as exc:
            st.error(parts.plain(str(exc)), icon=":material/error:")
        else:
            measure = st.radio(
                "Show", ["failure", "provider_end_p50_gbp_m"], horizontal=True, key="sweep-measure",
                format_func={"failure": "Chance of failure", "provider_end_p50_gbp_m": "Provider end position (P50)"}.get,
            )  # fmt: skip
            ends = sweep.per_combination(swept)
            labels = (SWEEPABLE.get(x_path, x_path), SWEEPABLE.get(y_path, y_path))
            parts.chart(
                charts.sweep_heatmap(ends, x_path, y_path, measure, labels),
                lambda: ends.round(4),
                "Each cell is one combination, everything else as designed; the same random numbers for every cell. "
                + readings.sweep_reading(ends, (x_path, y_path), labels),
                "sweep-heatmap",
            )
            level = st.slider("Keep the chance of failure at or under (%)", 0, 100, 20, 5, key="sweep-level") / 100
            best = sweep.frontier(ends, level)
            parts.chart(
                charts.sweep_frontier(ends, best, level),
                lambda: best.round(4),
                "The frontier: designs under the level that no other design under it beats on both a lower chance of failure "
                "and a better provider end position.",
                "sweep-frontier",
            )
            st.download_button(
                "Download the sweep (Parquet)", lambda: export.parquet_bytes(swept), "sweep.parquet", "application/octet-stream",
                key="sweep-parquet",
            )  # fmt: skip

with tabs[3]:
    if tabs[3].open:
        st.markdown(
            "Run the model on your own place's figures: a CSV with one row per service line, its spend in £m a year "
            "and, if you know it, its demand growth (a fraction a year); and, if you know them, a row per outcome measure "
            "with your place's own rate per 1,000 in a `rate_per_1000` column (care-home admissions: per 1,000 people aged "
            "65 and over, ASCOF 2C's rate per 100,000 divided by 100). Lines you leave out are filled from national "
            "spend per head times your population, and marked so; outcomes you leave out start from England's rates. "
            "It is saved as a custom template that opens like the "
            "vanguards everywhere (Home, Design, Projections, compare, the board pack, `--template` on the command line)."
        )
        example = baseline.example_csv()
        st.download_button("Download an example CSV", example, "baseline-example.csv", "text/csv", key="baseline-example")
        upload = st.file_uploader("Your baseline (CSV)", type=["csv"], key="baseline-file", max_upload_size=1)
        c1, c2 = st.columns(2)
        place = c1.text_input("Place name", key="baseline-name", max_chars=80)
        people = c2.number_input("Population", 1_000, 20_000_000, 250_000, 1_000, key="baseline-population")
        def save_place(replace: bool) -> bool:
            """True once the place is saved; otherwise the question or the problems are on the page."""
            st.session_state.pop("baseline-pending", None)
            try:
                made = baseline.read(upload.getvalue(), place, int(people))
                template_id = baseline.save(made, replace=replace)
            except baseline.PlaceExists:
                st.session_state.pop("baseline-made", None)  # an earlier "Saved" would read as this file's answer
                st.session_state["baseline-pending"] = place.strip()
            except baseline.BaselineError as exc:
                problems = "\n".join(f"- {parts.plain(p)}" for p in exc.problems)
                st.error(f"The file was not saved:\n{problems}", icon=":material/error:")
            else:
                st.session_state["baseline-made"] = (template_id, made.name, made.filled, "Replaced" if replace else "Saved")
                return True
            return False

        if st.button("Check and save as a template", key="baseline-save", type="primary", disabled=upload is None):
            save_place(replace=False)
        if (pending := st.session_state.get("baseline-pending")) and upload is not None:
            said = parts.ask(
                f"A place called **{parts.plain(pending)}** is already saved. Replace it with this file?",
                ("Replace it", "baseline-replace"), ("Keep it: choose another name", "baseline-cancel"),
            )  # fmt: skip
            if said is not None:
                st.session_state.pop("baseline-pending", None)
                if not said or save_place(replace=True):  # a refusal stays on the page to be read
                    st.rerun()
        if "baseline-made" in st.session_state:
            template_id, name, filled, done = st.session_state["baseline-made"]
            note = f" Filled from national averages: {', '.join(filled)}." if filled else ""
            st.success(f"{done} **{parts.plain(name)}** as template `{template_id}`.{note}", icon=":material/check_circle:")
            if st.button("Open it on the Design page", key="baseline-open"):
                state.start_from(template_id)
                st.switch_page("pages/design.py")

"""Tables, ratios and the issue's targets, from the results dict that ``run.py`` builds."""

from __future__ import annotations

TC = "tracker-core"


def _med(d: dict | None, key: str):
    v = (d or {}).get(key)
    return v.get("median") if isinstance(v, dict) else None


def _fmt(v, unit: str = "", digits: int = 1) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:,.{digits}f}{unit}"
    return f"{v}{unit}"


def _range(d: dict | None, key: str, scale: float = 1.0, digits: int = 1) -> str:
    v = (d or {}).get(key)
    if not isinstance(v, dict) or v.get("median") is None:
        return "-"
    return (f"{v['median'] * scale:,.{digits}f} [{v['min'] * scale:,.{digits}f}-"
            f"{v['max'] * scale:,.{digits}f}]")


def _ratio(a, b) -> str:
    return "-" if a is None or b in (None, 0) else f"{a / b:.2f}x"


def table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(r[i])) for r in [headers, *rows]) for i in range(len(headers))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(headers, widths)) + " |"
    sep = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = ["| " + " | ".join(str(c).ljust(w) for c, w in zip(r, widths)) + " |" for r in rows]
    return "\n".join([line, sep, *body])


def hot_table(hot: dict) -> str:
    tr = hot.get("trackers", {})
    floor = _med(tr.get("floor-jsonl"), "log_us")
    tc_cpu = _med(tr.get(TC), "cpu_us_per_step")
    rows = []
    for name, r in tr.items():
        if r.get("status") != "ok":
            rows.append([name, r.get("status", "?")] + ["-"] * 8)
            continue
        rows.append([name, str(r["steps"]), _range(r, "log_us"), _ratio(_med(r, "log_us"), floor),
                     _range(r, "finish_s", 1e3), _range(r, "cpu_us_per_step"),
                     _ratio(_med(r, "cpu_us_per_step"), tc_cpu), _fmt(r.get("cpu_us_per_step_by_difference")),
                     _fmt(_med(r, "tree_cpu_s"), " s", 2),
                     f"{r['rss_mb']['self']:.0f} + {r['rss_mb']['children']:.0f} MiB"])
    return table(["tracker", "steps", "log() us/call median [min-max]", "x floor-jsonl", "finish() ms",
                  "CPU us/step, whole tree", "CPU x tracker-core", "CPU us/step by difference", "tree CPU total",
                  "peak RSS python + largest child"], rows)


def imports_table(imp: dict) -> str:
    pk = imp.get("packages", {})
    tc = _med(pk.get(TC), "import_s")
    rows = [[n, _range(r, "import_s", 1e3), _ratio(_med(r, "import_s"), tc)] for n, r in pk.items()]
    rows += [[n, s, "-"] for n, s in imp.get("skipped", {}).items()]
    return table(["package", "import ms median [min-max]", "x tracker-core"], rows)


def tensors_table(ten: dict) -> str:
    tr = ten.get("trackers", {})
    floor, tc = tr.get("floor", {}).get("cases", {}), tr.get(TC, {}).get("cases", {})
    rows = []
    for case in ten.get("cases", []):
        f, t = floor.get(case, {}), tc.get(case, {})
        rows.append([case, _range(f, "s", 1e3), _range(t, "s", 1e3), _ratio(_med(t, "s"), _med(f, "s")),
                     _fmt(_med(f, "peak_over_tensor"), "x", 2), _fmt(_med(t, "peak_over_tensor"), "x", 2)])
    return table(["tensor", "floor ms", "tracker-core ms", "x floor", "floor peak/tensor",
                  "tracker-core peak/tensor"], rows)


def listing_table(lst: dict) -> str:
    tr = lst.get("trackers", {})
    fc, fw = _med(tr.get("floor-sqlite"), "cold_s"), _med(tr.get("floor-sqlite"), "warm_s")
    rows = []
    for name, r in tr.items():
        if r.get("status") != "ok":
            rows.append([name, r.get("status", "?")] + ["-"] * 5)
            continue
        rows.append([name, _range(r, "cold_s", 1e3), _ratio(_med(r, "cold_s"), fc), _range(r, "warm_s", 1e3),
                     _ratio(_med(r, "warm_s"), fw), f"{r['rows']}x{r['columns']}"])
    return table(["tracker", "first call ms", "x floor-sqlite", "warm ms (best of 3)", "x floor-sqlite",
                  "DataFrame"], rows)


def query_ui_table(qu: dict) -> str:
    rows = []
    q = qu.get("query", {})
    if q.get("status") == "ok":
        res = q["result"]
        med = res.get("medians", {})
        for key in ("filtered_ordered_to_pandas_s", "all_to_pandas_s", "filtered_count_s",
                    "first_page_50_with_summaries_s", "cli_csv_s", "cli_table_s"):
            if key in res:
                rows.append([f"Api/CLI {key[:-2]}", _fmt(med.get(key, 0) * 1e3, " ms"), _fmt(res[key] * 1e3, " ms")
                             if isinstance(res[key], float) else str(res[key])])
        rows.append(["(store build, runs)", _fmt(res.get("build_s"), " s"), str(res.get("runs"))])
    else:
        rows.append(["Api query", q.get("status", "not run"), "-"])
    u = qu.get("ui", {})
    if u.get("status") == "ok":
        for name, r in u["result"].items():
            rows.append([f"UI /api/runs {name}", _fmt(r.get("median_s", 0) * 1e3, " ms"), _fmt(r["s"] * 1e3, " ms")])
    else:
        rows.append(["UI runs table", u.get("status", "not run"), "-"])
    return table(["query (tracker-core)", "median", "best"], rows)


def adapters_table(ad: dict) -> str:
    rows = []
    ad = ad.get("frameworks", {})
    lt = ad.get("lightning", {})
    if lt.get("status") == "ok":
        r = lt["result"]
        rows.append(["Lightning TrackerLogger", f"{r['median_s']['none']:.3f} s", f"{r['median_s']['tracker']:.3f} s",
                     f"{(r['median_s']['tracker'] / r['median_s']['none'] - 1) * 100:+.2f} % median, "
                     f"{r['overhead_vs_no_logger_pct']:+.2f} % best",
                     f"{r['cpu_overhead_vs_no_logger_pct']:+.2f} % (best)",
                     f"log_metrics {r['log_metrics_us_per_call']} us"])
    else:
        rows.append(["Lightning", lt.get("status", "not run")] + ["-"] * 4)
    hf = ad.get("transformers", {})
    if hf.get("status") == "ok":
        r = hf["result"]
        res, s = r["results"], r["summary"]
        import statistics as st

        none = st.median(x["wall"] for x in res["none"])
        tracked = st.median(x["wall"] for x in res["tracker_core"])
        rows.append(["HF report_to=tracker_core", f"{none:.3f} s", f"{tracked:.3f} s",
                     f"{(tracked / none - 1) * 100:+.2f} % median, {s['wall_overhead'] * 100:+.2f} % best",
                     f"{s['cpu_overhead'] * 100:+.2f} % (best); in hooks {s['attributable_overhead'] * 100:.2f} %",
                     f"on_log {r['hooks_us'].get('on_log(train row)', 0):.0f} us"])
    else:
        rows.append(["HF Transformers", hf.get("status", "not run")] + ["-"] * 4)
    return table(["adapter", "without (median)", "with (median)", "wall overhead", "CPU overhead", "hook alone"],
                 rows)


# -- targets --------------------------------------------------------------------------------

def targets(w: dict) -> list[dict]:
    out: list[dict] = []

    def add(name: str, value, goal: str, met, detail: str = "") -> None:
        out.append({"target": name, "value": value, "goal": goal, "met": met, "detail": detail})

    hot = w.get("hot_path", {}).get("trackers", {})
    tc, floor = _med(hot.get(TC), "log_us"), _med(hot.get("floor-jsonl"), "log_us")
    if tc and floor:
        add("log() vs JSONL floor", round(tc / floor, 2), "<= 2x", tc / floor <= 2,
            f"{tc:.2f} vs {floor:.2f} us/call")
    wb, tcc = _med(hot.get("wandb"), "cpu_us_per_step"), _med(hot.get(TC), "cpu_us_per_step")
    if wb and tcc:
        add("CPU per step, W&B offline / tracker-core", round(wb / tcc, 1), ">= 20x", wb / tcc >= 20,
            f"{wb:.1f} vs {tcc:.1f} us of CPU per step (whole process tree)")
    peers = {n: r for n, r in hot.items() if r.get("status") == "ok" and not n.startswith(("floor", TC))}
    if tc and peers:
        best = min(peers, key=lambda n: _med(peers[n], "log_us"))
        add("hot path ahead of every peer (log() us/call)", f"best peer {best}", "tracker-core fastest",
            tc < _med(peers[best], "log_us"), f"{tc:.2f} vs {_med(peers[best], 'log_us'):.2f} us/call")
        best_cpu = min(peers, key=lambda n: _med(peers[n], "cpu_us_per_step"))
        add("hot path ahead of every peer (CPU/step)", f"best peer {best_cpu}", "tracker-core lowest",
            tcc < _med(peers[best_cpu], "cpu_us_per_step"),
            f"{tcc:.2f} vs {_med(peers[best_cpu], 'cpu_us_per_step'):.2f} us/step")
    lst = w.get("listing", {}).get("trackers", {})
    tl, fl = _med(lst.get(TC), "cold_s"), _med(lst.get("floor-sqlite"), "cold_s")
    if tl and fl:
        add("200-run listing vs sqlite3 floor (first call)", round(tl / fl, 2), "<= 1.5x", tl / fl <= 1.5,
            f"{tl * 1e3:.1f} vs {fl * 1e3:.1f} ms")
    tw, fw = _med(lst.get(TC), "warm_s"), _med(lst.get("floor-sqlite"), "warm_s")
    if tw and fw:
        add("200-run listing vs sqlite3 floor (warm)", round(tw / fw, 2), "<= 1.5x", tw / fw <= 1.5,
            f"{tw * 1e3:.1f} vs {fw * 1e3:.1f} ms")
    lpeers = {n: r for n, r in lst.items() if r.get("status") == "ok" and not n.startswith(("floor", TC))}
    if tl and lpeers:
        best = min(lpeers, key=lambda n: _med(lpeers[n], "cold_s"))
        add("200-run listing ahead of every peer", f"best peer {best}", "tracker-core fastest",
            tl < _med(lpeers[best], "cold_s"), f"{tl * 1e3:.1f} vs {_med(lpeers[best], 'cold_s') * 1e3:.1f} ms")
    imp = _med(w.get("imports", {}).get("packages", {}).get(TC), "import_s")
    if imp is not None:
        add("import tracker_core", round(imp * 1e3, 1), "< 100 ms", imp < 0.1)
    ten = w.get("tensors", {}).get("trackers", {})
    for case in w.get("tensors", {}).get("cases", []):
        t, f = ten.get(TC, {}).get("cases", {}).get(case), ten.get("floor", {}).get("cases", {}).get(case)
        if t and f and _med(t, "s") and _med(f, "s"):
            r = _med(t, "s") / _med(f, "s")
            add(f"tensor {case}: time vs numpy floor", round(r, 2), "<= 2x", r <= 2,
                f"{_med(t, 's') * 1e3:.1f} vs {_med(f, 's') * 1e3:.1f} ms")
            p = _med(t, "peak_over_tensor")
            add(f"tensor {case}: peak memory / tensor size", round(p, 2), "< 2x", p < 2,
                f"floor {_med(f, 'peak_over_tensor'):.2f}x (the tensor itself counts as 1x)")
    return out


def targets_table(ts: list[dict]) -> str:
    rows = [[t["target"], str(t["value"]), t["goal"], "met" if t["met"] else "MISSED", t["detail"]] for t in ts]
    return table(["target", "value", "goal", "", "detail"], rows)


def render(results: dict) -> str:
    w = results.get("workloads", {})
    parts = []
    sections = (("hot_path", "Hot path", hot_table), ("imports", "Import time", imports_table),
                ("tensors", "Tensor summaries", tensors_table), ("listing", "Listing runs into pandas",
                                                                  listing_table),
                ("query_ui", "10,000-run query and UI runs table", query_ui_table),
                ("adapters", "Adapter overhead", adapters_table))
    for key, title, fn in sections:
        if key not in w:
            continue
        data = w[key]
        if data.get("status", "ok") != "ok":
            parts.append(f"## {title}\n\n{data['status']}")
            continue
        note = data.get("note", "")
        parts.append(f"## {title}\n\n{note}\n\n{fn(data)}" if note else f"## {title}\n\n{fn(data)}")
    if results.get("targets"):
        parts.append("## Targets\n\n" + targets_table(results["targets"]))
    return "\n\n".join(parts)

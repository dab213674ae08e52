import tracker_core as tc


def test_roundtrip_min_max_best(api):
    run = tc.init(project="p")
    tc.define_metric("loss", summary="min,max")
    tc.define_metric("acc", summary="best", objective="maximize")
    for loss, acc in [(0.9, 0.1), (0.3, 0.8), (0.5, 0.6)]:
        tc.log({"loss": loss, "acc": acc})
    tc.finish()
    s = api.run(run.path).summary
    assert s["loss"] == {"min": 0.3, "max": 0.9}
    assert s["acc"] == {"best": 0.8}
    assert s.details("acc")["best"] == {"value": 0.8, "step": 1}

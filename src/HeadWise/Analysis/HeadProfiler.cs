using System.Diagnostics;
using System.Text.Json.Nodes;

namespace HeadWise.Analysis;

/// <summary>Runs the chosen scores on one context into an atlas; scores a model cannot support are skipped and recorded.</summary>
public static class HeadProfiler
{
    public static HeadAtlas Profile(ProfileContext ctx, IReadOnlyList<IHeadScore> scores, string modelName, JsonObject? extraParams = null)
    {
        var s = ctx.Spec;
        var atlas = new HeadAtlas { Model = modelName, Layers = s.Layers, Heads = s.Heads, KvHeads = s.KvHeads };
        atlas.Params["seed"] = ctx.Seed;
        atlas.Params["probe_documents"] = ctx.Probes.Count;
        atlas.Params["probe_tokens"] = ctx.Probes[0].Length;
        atlas.Params["causal"] = s.Causal;
        if (extraParams is not null) foreach (var (k, v) in extraParams) atlas.Params[k] = v?.DeepClone();
        var timings = new JsonObject();
        for (int i = 0; i < scores.Count; i++)
        {
            var score = scores[i];
            if (score.Unsupported(s) is { } why)
            {
                ctx.Progress($"[{i + 1}/{scores.Count}] {score.Name}: skipped ({why})");
                atlas.Skipped[score.Name] = why;
                continue;
            }
            ctx.Progress($"[{i + 1}/{scores.Count}] {score.Name}");
            var sw = Stopwatch.StartNew();
            foreach (var map in score.Compute(ctx)) { atlas.Add(map); ctx.Remember(map); }
            timings[score.Name] = Math.Round(sw.Elapsed.TotalSeconds, 2);
            ctx.Progress($"[{i + 1}/{scores.Count}] {score.Name}: done in {sw.Elapsed.TotalSeconds:F1} s");
        }
        atlas.Params["seconds"] = timings;
        return atlas;
    }
}

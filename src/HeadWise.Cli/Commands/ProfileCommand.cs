using System.CommandLine;
using System.Diagnostics;
using HeadWise.Analysis;
using HeadWise.Models;
using HeadWise.Reports;

namespace HeadWise.Cli.Commands;

/// <summary>`headwise profile`: every chosen head score on one model into DIR/atlas.json, a heatmap per score and DIR/index.html.</summary>
internal static class ProfileCommand
{
    public static Command Create()
    {
        var model = CommonOptions.Model();
        var load = new LoadOptionSet();
        var scores = new Option<string?>("--scores") { Description = $"Comma-separated scores (default all): {string.Join(", ", ScoreRegistry.Names)}" };
        var probe = new Option<string?>("--probe-file") { Description = "Text to build probe documents from (default: a short built-in story)" };
        var seed = new Option<int>("--seed") { Description = "Seed for prompts and optimisation", DefaultValueFactory = _ => 0 };
        var docs = new Option<int>("--probe-docs") { Description = "Number of probe documents", DefaultValueFactory = _ => 4 };
        var tokens = new Option<int>("--probe-tokens") { Description = "Tokens per probe document (capped by the model's context)", DefaultValueFactory = _ => 128 };
        var outDir = new Option<string>("--out") { Description = "Output folder", Required = true };
        docs.InRange(1, 4096);
        tokens.InRange(2, 1 << 24);
        var command = new Command("profile", "Score every head with the published methods into one atlas (json, heatmaps, html)")
            { model, scores, probe, seed, docs, tokens, outDir };
        foreach (var o in load.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() => Run(r.GetValue(model)!, load.Get(r), r.GetValue(scores), r.GetValue(probe),
            r.GetValue(seed), r.GetValue(docs), r.GetValue(tokens), r.GetValue(outDir)!)));
        return command;
    }

    private static int Run(string path, LoadOptions loadOptions, string? scoreList, string? probeFile, int seed, int docs, int tokens, string outDir)
    {
        var chosen = ScoreRegistry.Parse(scoreList);
        var text = probeFile is null ? ProbeSet.DefaultText : Formats.BoundedFile.ReadAllText(probeFile, "probe text", Formats.FileLimits.Text);
        using var m = ModelLoader.Load(path, loadOptions);
        // A short text (the built-in one under a coarse vocabulary) still gives two documents, each shorter.
        int textTokens = m.Tokenizer.Encode(text, addBos: false).Count;
        int length = Math.Min(Math.Min(tokens, m.Spec.ContextLength), Math.Max(8, textTokens / 2));
        var probes = ProbeSet.FromText(text, m.Tokenizer, docs, length);
        if (probes.Count < 2) throw new HeadWiseException($"the probe text gives {probes.Count} document of {length} tokens; at least 2 are needed (give a longer --probe-file or fewer --probe-tokens)");
        var sw = Stopwatch.StartNew();
        using var ctx = new ProfileContext(m.Transformer, m.Tokenizer, probes, seed, progress: msg => Console.Error.WriteLine($"[{sw.Elapsed:mm\\:ss}] {msg}"));
        var extra = new System.Text.Json.Nodes.JsonObject { ["probe_file"] = probeFile ?? "(built-in)", ["model_path"] = Path.GetFullPath(path) };
        var atlas = HeadProfiler.Profile(ctx, chosen, m.DisplayName, extra);
        Directory.CreateDirectory(outDir);
        atlas.Save(Path.Combine(outDir, "atlas.json"));
        AtlasReport.Write(atlas, outDir);
        Console.WriteLine($"atlas: {Path.Combine(outDir, "atlas.json")} ({atlas.Scores.Count} maps, {atlas.Skipped.Count} skipped) in {sw.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"report: {Path.Combine(outDir, "index.html")}");
        return 0;
    }
}

using System.CommandLine;
using System.Diagnostics;
using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Heads;
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
        var scores = new Option<string?>("--scores") { Description = $"Comma-separated scores (default all; docs/fidelity.md compares each with its paper): {ScoreHelp.Describe(ScoreRegistry.Names)}" };
        var probe = new Option<string?>("--probe-file") { Description = "Text to build probe documents from (default: a short built-in story)" };
        var seed = new Option<int>("--seed") { Description = "Seed for prompts and optimisation", DefaultValueFactory = _ => 0 };
        var docs = new Option<int>("--probe-docs") { Description = "Number of probe documents", DefaultValueFactory = _ => 4 };
        var tokens = new Option<int>("--probe-tokens") { Description = "Tokens per probe document (capped by the model's context)", DefaultValueFactory = _ => 128 };
        var scoreParams = new Option<string[]>("--score-params")
        {
            Description = "SCORE:key=value,... (repeatable), e.g. duo-gate:steps=500,sinks=16,recent=128; duo-gate keys: " +
                          string.Join(", ", DuoGateTraining.Keys.Select(k => $"{k.Key} ({k.Value})")) +
                          "; qk-select keys: " + string.Join(", ", QkSelectScore.Keys.Select(k => $"{k.Key} ({k.Value})")),
        };
        var outDir = new Option<string>("--out") { Description = "Output folder: atlas.json, atlas.csv, one PNG per map, index.html", Required = true };
        var save = CommonOptions.SaveActivations();
        docs.InRange(1, 4096);
        tokens.InRange(2, 1 << 24);
        var command = new Command("profile", "Score every head with the published methods into one atlas (json, csv, heatmaps, interactive html)")
            { model, scores, scoreParams, probe, seed, docs, tokens, outDir, save };
        foreach (var o in load.All) command.Options.Add(o);
        command.SetAction(r => CliRun.Guard(() => Run(CommonOptions.ResolveModel(r.GetValue(model)!), load.Get(r), r.GetValue(scores), r.GetValue(scoreParams),
            r.GetValue(probe), r.GetValue(seed), r.GetValue(docs), r.GetValue(tokens), r.GetValue(outDir)!, r.GetValue(save))));
        return command;
    }

    private static int Run(string path, LoadOptions loadOptions, string? scoreList, string[]? scoreParams, string? probeFile, int seed, int docs, int tokens,
        string outDir, string? save)
    {
        var parameters = new Dictionary<string, string>();
        foreach (var item in scoreParams ?? [])
        {
            int colon = item.IndexOf(':');
            if (colon <= 0) throw new HeadWiseException($"--score-params {ErrorText.Quote(item)} is not SCORE:key=value,...");
            parameters[item[..colon].Trim()] = item[(colon + 1)..];
        }
        var chosen = ScoreRegistry.Parse(scoreList, parameters);
        OutputPaths.CheckFileFolder(save, "--save-activations");
        var text = probeFile is null ? ProbeSet.DefaultText : Formats.BoundedFile.ReadAllText(probeFile, "probe text", Formats.FileLimits.Text);
        using var m = ModelLoader.Load(path, loadOptions);
        // A short text (the built-in one under a coarse vocabulary) still gives two documents, each shorter.
        int textTokens = m.Tokenizer.Encode(text, addBos: false).Count;
        int length = Math.Min(Math.Min(tokens, m.Spec.ContextLength), Math.Max(8, textTokens / 2));
        var probes = ProbeSet.FromText(text, m.Tokenizer, docs, length);
        if (probes.Count < 2) throw new HeadWiseException($"the probe text gives {probes.Count} document of {length} tokens; at least 2 are needed (give a longer --probe-file or fewer --probe-tokens)");
        var bar = new ProgressBar("profile");
        bar.Note($"probing with {probes.Count} documents of {length} tokens" + (probes.Count < docs
            ? $" ({docs} asked for: the probe text has {textTokens} tokens, enough for {probes.Count}; give a longer --probe-file for more)"
            : length < tokens ? $" ({tokens} tokens asked for: capped by the probe text, half of its {textTokens} tokens, or the model's context)" : ""));
        if (save is not null) CheckSaveSize(m.Spec, probes.Count, length);
        var sw = Stopwatch.StartNew();
        using var ctx = new ProfileContext(m.Transformer, m.Tokenizer, probes, seed, progress: bar.Note);
        var extra = new System.Text.Json.Nodes.JsonObject { ["probe_file"] = probeFile ?? "(built-in)", ["model_path"] = Path.GetFullPath(path) };
        var atlas = HeadProfiler.Profile(ctx, chosen, m.DisplayName, extra);
        Directory.CreateDirectory(outDir);
        atlas.Save(Path.Combine(outDir, "atlas.json"));
        AtlasReport.Write(atlas, outDir);
        Console.WriteLine($"atlas: {Path.Combine(outDir, "atlas.json")} ({atlas.Scores.Count} maps, {atlas.Skipped.Count} skipped) in {sw.Elapsed.TotalSeconds:F1} s");
        Console.WriteLine($"table: {Path.Combine(outDir, "atlas.csv")} (one row per head; pandas.read_csv)");
        Console.WriteLine($"report: {Path.Combine(outDir, "index.html")}");
        if (save is not null) SaveProbeActivations(save, m, probes);
        return 0;
    }

    // Patterns are docs x layers x heads x T^2 floats: refuse before the minutes of profiling rather than after.
    private const long MaxSaveBytes = 1L << 30;

    private static void CheckSaveSize(Models.ModelSpec s, int docs, int length)
    {
        long bytes = 4L * docs * s.Layers * (s.Heads * (long)length * length + 2L * length * s.Dim);
        if (bytes > MaxSaveBytes)
            throw new HeadWiseException($"--save-activations would write {bytes / 1048576.0:F0} MiB (every layer's pattern for {docs} documents of {length} tokens); " +
                                        $"the limit is {MaxSaveBytes / 1048576} MiB: give fewer --probe-docs or --probe-tokens");
    }

    /// <summary>The probe documents as one batch [N, T]: every layer's hook_pattern and hook_resid_post.</summary>
    private static void SaveProbeActivations(string path, LoadedModel m, IReadOnlyList<int[]> probes)
    {
        using var scope = TorchSharp.torch.NewDisposeScope();
        var batch = TorchSharp.torch.tensor(probes.SelectMany(p => p.Select(i => (long)i)).ToArray(), [probes.Count, probes[0].Length]);
        var (_, cache) = m.Transformer.RunWithCache(batch, name => name.EndsWith("attn.hook_pattern") || name.EndsWith("hook_resid_post"));
        using var _c = cache;
        ActivationExport.Save(path, cache, m, $"{probes.Count} probe documents (batch axis)", probes[0].Select(m.Tokenizer.TokenLabel).ToList());
    }
}

using System.Text.Json;
using HeadWise.Analysis;
using HeadWise.Analysis.Scores;
using HeadWise.Formats.Gguf;
using HeadWise.Models;

namespace HeadWise.Training;

/// <summary>What the export step measures: samples per probe task, their lengths, prompts per harness cell (0: no harness), and whether a short DuoAttention gate training runs for the card.</summary>
public sealed record ExportOptions(int ProbeSamples = 50, int[]? ProbeLengths = null, int HarnessSamples = 10, bool DuoGates = true);

/// <summary>Time and conditions of the training loop: wall and process CPU minutes, and the mean 1-minute load average.</summary>
public sealed record TrainingTime(double WallMinutes, double CpuMinutes, double? MeanLoad, int Threads);

/// <summary>Measured numbers of a finished run (model-card.json).</summary>
public sealed record TrainingMetrics(
    string Name, int Seed, int Steps, double WallSeconds, TrainingTime Time, long Parameters, double? FinalLoss, double HeldOutLoss,
    double HeldOutPerplexity, int HeldOutTokens, double BytesPerToken, IReadOnlyList<ProbeResult> Probes, IReadOnlyList<HeadBehaviour> Heads,
    HeadCensus Census, int HeadCheckLength, SinkMeasure Sinks, IReadOnlyList<SinkMeasure> SinkCurve, IReadOnlyList<HarnessCell> Harness,
    double[][]? DuoGates, VariantReport? Variant = null);

/// <summary>
/// What a finished run leaves in its folder: model.gguf (llama.cpp and HeadWise), config.json + model.safetensors +
/// tokenizer.json (Hugging Face layout), loss.png, model-card.json and README.md with held-out perplexity, greedy task
/// accuracy, the head census, sink ratios, the evaluation harness by length and depth, and DuoAttention's gates.
/// </summary>
internal static class TrainingOutputs
{
    public static string Write(Trainer trainer, TrainConfig config, string outDir, double seconds, Action<string> log, string command, ExportOptions? options = null)
    {
        options ??= new ExportOptions();
        var model = trainer.EvalModel();
        var ggufPath = Path.Combine(outDir, "model.gguf");
        var refusal = GgufExporter.Refusal(trainer.Spec);
        if (refusal is null) GgufExporter.Write(ggufPath, trainer.Spec, trainer.Weights, trainer.Vocabulary, GgmlType.F32);
        else
        {
            if (File.Exists(ggufPath)) File.Delete(ggufPath);   // a stale file from an earlier softmax run would load as the wrong model
            log(refusal);
        }
        HfExporter.Write(outDir, trainer.Spec, trainer.Weights, trainer.Vocabulary);
        log($"wrote {(refusal is null ? ggufPath + " and " : "")}the Hugging Face files (config.json, model.safetensors, tokenizer.json)");
        LossCurvePlot.Save(Path.Combine(outDir, "loss.png"), trainer.Log.Steps, config);

        int window = Math.Min(config.Context, 2048);
        double heldOut = TaskProbe.HeldOutLoss(model, trainer.Corpus.HeldOut, trainer.Vocabulary.BosId, window, maxTokens: 10 * window);
        int heldOutTokens = Math.Min(trainer.Corpus.HeldOut.Length, 10 * window);
        log($"held-out loss {heldOut:F4} nats/token, perplexity {Math.Exp(heldOut):F2}");

        var heldOutTasks = new LongContextTasks(trainer.Tokenizer, trainer.Corpus.HeldOut, config);
        var probe = new TaskProbe(heldOutTasks, config.Seed + 1);
        var probes = new List<ProbeResult>();
        int n = options.ProbeSamples;
        foreach (int length in (options.ProbeLengths ?? [config.Context / 4, config.Context]).Distinct())
            foreach (var (kind, count, style) in new[] { (SampleKind.Passkey, n, NeedleStyle.MagicNumber), (SampleKind.Niah, n, NeedleStyle.MagicNumber),
                         (SampleKind.Niah, n / 2, NeedleStyle.Keyed), (SampleKind.Niah, n / 2, NeedleStyle.Fact), (SampleKind.KvRetrieval, n / 2, NeedleStyle.MagicNumber),
                         (SampleKind.Copy, n / 5, NeedleStyle.MagicNumber) })
            {
                var r = probe.Run(model, kind, length, Math.Max(1, count), style);
                if (r is null) { log($"{kind} does not fit in {length} tokens: not probed"); continue; }
                probes.Add(r);
                log($"{r.Task} at {r.Length}: {r.SampleAccuracy:P0} of {r.Samples} samples right, {r.TokenAccuracy:P1} of answer tokens");
            }
        int headLength = options.ProbeLengths?.Max() ?? config.Context;
        var heads = HeadBehaviourCheck.Run(model, heldOutTasks, headLength, 12, config.Seed + 2);
        foreach (var h in heads) log($"head {h.Layer}.{h.Head}: retrieval {h.Retrieval:0.00}, sink {h.Sink:0.00}, local {h.Local:0.00}, previous token {h.Previous:0.00}");
        var sinks = SinkMeter.Measure(model, trainer.Corpus.HeldOut, trainer.Vocabulary.BosId, trainer.Step);
        log($"sink ratio {sinks.Ratio:0.00} ({sinks.RatioFromLayer1:0.00} in layers 1+; {sinks.SinkHeadsFromLayer1} of {sinks.HeadsFromLayer1} heads there at {SinkMeter.Epsilon} or more)");

        List<HarnessCell> harness = [];
        double[][]? gates = null;
        // The exported model, reloaded: GGUF where llama.cpp can read it, else the Hugging Face folder.
        using (var loaded = ModelLoader.Load(refusal is null ? ggufPath : outDir))
        {
            if (options.HarnessSamples > 0)
                harness = HarnessCheck.Run(loaded, TrainConfigValidator.TextFiles(config)[0], options.HarnessSamples, log);
            // DuoAttention mixes softmax attention with a streaming pattern: no meaning for other weights.
            if (options.DuoGates && trainer.Spec.Attention is null or { SoftmaxWeights: true })
                gates = DuoGates(loaded, trainer.Corpus.HeldOut, trainer.Vocabulary.BosId, config.Seed, log);
        }
        var variant = VariantReport.Measure(model, trainer.Corpus.HeldOut, trainer.Vocabulary.BosId, config.Context);
        if (variant?.HeadShares is { } shares)
            log("heads activated (share of tokens) per layer: " + string.Join(" | ", shares.Select(l => string.Join(" ", l.Select(v => v.ToString("0.00"))))));

        var bytes = System.Text.Encoding.UTF8.GetByteCount(trainer.Tokenizer.Decode(trainer.Corpus.HeldOut.Take(20_000)));
        var steps = trainer.Log.Steps;
        var time = new TrainingTime(seconds / 60, steps.Count > 0 ? steps[^1].CpuSeconds / 60 : 0,
            steps.Any(s => s.Load is not null) ? steps.Where(s => s.Load is not null).Average(s => s.Load!.Value) : null, TorchSharp.torch.get_num_threads());
        var metrics = new TrainingMetrics(config.Name, config.Seed, trainer.Step, seconds, time, trainer.Weights.ParameterCount,
            steps.Count > 0 ? steps.TakeLast(20).Average(s => s.Loss) : null,
            heldOut, Math.Exp(heldOut), heldOutTokens, bytes / (double)Math.Min(20_000, trainer.Corpus.HeldOut.Length), probes, heads,
            HeadCensus.Of(heads), headLength, sinks, trainer.Sinks.Records, harness, gates, variant);
        File.WriteAllText(Path.Combine(outDir, "model-card.json"), JsonSerializer.Serialize(metrics, TrainConfig.Json));
        File.WriteAllText(Path.Combine(outDir, "README.md"), ModelCard.Build(config, metrics, trainer.Spec, command));
        return $"trained {trainer.Step} steps in {seconds:F0} s; held-out perplexity {Math.Exp(heldOut):F2}; " +
               string.Join(", ", probes.Where(p => p.Length == config.Context).Select(p => $"{p.Task} {p.SampleAccuracy:P0}"));
    }

    /// <summary>
    /// DuoAttention's gates per KV head from a short run of its training (100 of the paper's 2,000 steps, haystacks of
    /// held-out text up to 1,024 tokens): a census for the card, not the published pattern (`profile --scores duo-gate`).
    /// </summary>
    private static double[][]? DuoGates(LoadedModel model, int[] heldOut, int bos, int seed, Action<string> log)
    {
        int length = Math.Min(model.Spec.ContextLength, 1024);
        if (heldOut.Length < 2 * length) { log("duo gates: not enough held-out text"); return null; }
        var probes = Enumerable.Range(0, 2).Select(i => (int[])[bos, .. heldOut.Skip(i * length).Take(length - 1)]).ToList();
        using var ctx = new ProfileContext(model.Transformer, model.Tokenizer, probes, seed);
        double[][] gates;
        try { (gates, _) = new DuoGateScore(new DuoGateTraining { Steps = 100, MaxLength = length }).Optimise(ctx); }
        catch (HeadWiseException e) { log($"duo gates: skipped ({e.Message})"); return null; } // e.g. ten passkeys do not fit a tiny context
        log("duo gates per KV head: " + string.Join(" | ", gates.Select(g => string.Join(" ", g.Select(v => v.ToString("0.00"))))));
        return gates;
    }
}

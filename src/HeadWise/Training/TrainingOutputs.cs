using System.Text.Json;
using HeadWise.Formats.Gguf;

namespace HeadWise.Training;

/// <summary>Measured numbers of a finished run (model-card.json).</summary>
public sealed record TrainingMetrics(
    string Name, int Seed, int Steps, double WallSeconds, long Parameters, double? FinalLoss, double HeldOutLoss, double HeldOutPerplexity,
    int HeldOutTokens, double BytesPerToken, IReadOnlyList<ProbeResult> Probes, IReadOnlyList<HeadBehaviour> Heads, int HeadCheckLength);

/// <summary>
/// What a finished run leaves in its folder: model.gguf (llama.cpp and HeadWise), config.json + model.safetensors +
/// tokenizer.json (Hugging Face layout), loss.png, model-card.json with held-out perplexity and greedy task accuracy.
/// </summary>
public static class TrainingOutputs
{
    public static string Write(Trainer trainer, TrainConfig config, string outDir, double seconds, Action<string> log, string command, int probeSamples = 50, int[]? probeLengths = null)
    {
        var model = trainer.EvalModel();
        GgufExporter.Write(Path.Combine(outDir, "model.gguf"), trainer.Spec, trainer.Weights, trainer.Vocabulary, GgmlType.F32);
        HfExporter.Write(outDir, trainer.Spec, trainer.Weights, trainer.Vocabulary);
        log($"wrote {Path.Combine(outDir, "model.gguf")} and the Hugging Face files (config.json, model.safetensors, tokenizer.json)");
        LossCurvePlot.Save(Path.Combine(outDir, "loss.png"), trainer.Log.Steps, config);

        int window = Math.Min(config.Context, 2048);
        double heldOut = TaskProbe.HeldOutLoss(model, trainer.Corpus.HeldOut, trainer.Vocabulary.BosId, window, maxTokens: 10 * window);
        int heldOutTokens = Math.Min(trainer.Corpus.HeldOut.Length, 10 * window);
        log($"held-out loss {heldOut:F4} nats/token, perplexity {Math.Exp(heldOut):F2}");

        var probe = new TaskProbe(new LongContextTasks(trainer.Tokenizer, trainer.Corpus.HeldOut, 2f), config.Seed + 1);
        var probes = new List<ProbeResult>();
        foreach (int length in (probeLengths ?? [config.Context / 4, config.Context]).Distinct())
            foreach (var (kind, n, style) in new[] { (SampleKind.Passkey, probeSamples, 0), (SampleKind.Niah, probeSamples, 0), (SampleKind.Niah, probeSamples / 2, LongContextTasks.NiahPhraseStyle),
                         (SampleKind.KvRetrieval, probeSamples / 2, 0), (SampleKind.Copy, probeSamples / 5, 0) })
            {
                var r = probe.Run(model, kind, length, Math.Max(1, n), niahStyle: style);
                if (r is null) { log($"{kind} does not fit in {length} tokens: not probed"); continue; }
                probes.Add(r);
                log($"{r.Task} at {r.Length}: {r.SampleAccuracy:P0} of {r.Samples} samples right, {r.TokenAccuracy:P1} of answer tokens");
            }
        int headLength = probeLengths?.Max() ?? config.Context;
        var heads = HeadBehaviourCheck.Run(model, new LongContextTasks(trainer.Tokenizer, trainer.Corpus.HeldOut, 2f), headLength, 10, config.Seed + 2);
        foreach (var h in heads) log($"head {h.Layer}.{h.Head}: retrieval {h.Retrieval:0.00}, sink {h.Sink:0.00}, local {h.Local:0.00}, previous token {h.Previous:0.00}");
        var bytes = System.Text.Encoding.UTF8.GetByteCount(trainer.Tokenizer.Decode(trainer.Corpus.HeldOut.Take(20_000)));
        var metrics = new TrainingMetrics(config.Name, config.Seed, trainer.Step, seconds, trainer.Weights.ParameterCount,
            trainer.Log.Steps.Count > 0 ? trainer.Log.Steps.TakeLast(20).Average(s => s.Loss) : null,
            heldOut, Math.Exp(heldOut), heldOutTokens, bytes / (double)Math.Min(20_000, trainer.Corpus.HeldOut.Length), probes, heads, headLength);
        File.WriteAllText(Path.Combine(outDir, "model-card.json"), JsonSerializer.Serialize(metrics, TrainConfig.Json));
        File.WriteAllText(Path.Combine(outDir, "README.md"), ModelCard.Build(config, metrics, trainer.Spec, command));
        return $"trained {trainer.Step} steps in {seconds:F0} s; held-out perplexity {Math.Exp(heldOut):F2}; " +
               string.Join(", ", probes.Where(p => p.Length == config.Context).Select(p => $"{p.Task} {p.SampleAccuracy:P0}"));
    }
}

using System.Diagnostics;
using HeadWise.Models;
using HeadWise.Models.Variants;
using TorchSharp;
using AdamW = TorchSharp.Modules.AdamW;
using Parameter = TorchSharp.Modules.Parameter;
using Transformer = HeadWise.Models.Transformer;
using static TorchSharp.torch;
using F = TorchSharp.torch.nn.functional;

namespace HeadWise.Training;

/// <summary>What the trainer reports after each step (for a progress bar).</summary>
public sealed record TrainProgress(int Step, int Steps, double Loss, double Lr, double TokensPerSecond, double ElapsedSeconds);

/// <summary>
/// Trains a Llama-architecture model from scratch with TorchSharp autograd: AdamW (no decay on norms), warm-up +
/// cosine learning rate, gradient clipping, optional bf16 compute; checkpoints that resume to the same loss curve.
/// Files in the output folder: bpe.json (the vocabulary), checkpoint/ (latest state), train-log.jsonl.
/// </summary>
internal sealed class Trainer : IDisposable
{
    private readonly TrainConfig _config;
    private readonly string _out;
    private readonly Action<string> _log;
    private readonly AdamW _optimizer;
    private readonly DataMixer _mixer;
    /// <summary>Collects a routed variant's load-balance loss each step (MoH); null otherwise.</summary>
    private readonly HeadRouting? _routing;

    public Trainer(TrainConfig config, string outDir, Action<string>? log = null)
    {
        TrainConfigValidator.Validate(config, "(config)");
        _config = config;
        _out = outDir;
        _log = log ?? (_ => { });
        Directory.CreateDirectory(outDir);
        var sw = Stopwatch.StartNew();
        var parts = TextCorpus.Split(TrainConfigValidator.TextFiles(config), config.HeldOutFraction).ToList();
        var vocabPath = Path.Combine(outDir, "bpe.json");
        if (File.Exists(vocabPath)) Vocabulary = BpeVocabularyFile.Load(vocabPath);
        else
        {
            Vocabulary = BpeTrainer.Train(TextCorpus.TokenizerSample(parts, config.TokenizerTrainChars), config.VocabSize);
            BpeVocabularyFile.Save(vocabPath, Vocabulary);
            _log($"trained a byte-level BPE of {Vocabulary.Tokens.Length} tokens in {sw.Elapsed.TotalSeconds:F1} s");
        }
        Tokenizer = Vocabulary.CreateTokenizer(vocabPath);
        Corpus = TextCorpus.Build(parts, Tokenizer, Vocabulary.EosId);
        _log($"text: {Corpus.Train.Length:N0} training tokens, {Corpus.HeldOut.Length:N0} held out ({sw.Elapsed.TotalSeconds:F1} s)");
        var tasks = new LongContextTasks(Tokenizer, Corpus.Train, config);
        _mixer = new DataMixer(config, tasks);
        WriteSamples(Path.Combine(outDir, "samples.txt"), tasks);

        Spec = ModelInit.Spec(config, Vocabulary.Tokens.Length);
        Weights = ModelInit.Random(Spec, config.Seed, config.EmbeddingOffset);
        if (Spec.Attention is MixtureOfHeads) _routing = new HeadRouting(Spec.Layers, Spec.Heads);
        if (config.InitFrom is not null)
        {
            Checkpoint.LoadWeights(Path.Combine(config.InitFrom, "weights.bin"), Weights);
            _log($"initial weights from {config.InitFrom}");
        }
        var all = Weights.All().Cast<Parameter>().ToList();
        // Decay matrices only: shrinking norm gains toward 0 is not regularisation.
        var groups = new[]
        {
            new AdamW.ParamGroup(all.Where(p => p.dim() >= 2), new AdamW.Options { LearningRate = config.LearningRate, weight_decay = config.WeightDecay, beta1 = config.Beta1, beta2 = config.Beta2 }),
            new AdamW.ParamGroup(all.Where(p => p.dim() < 2), new AdamW.Options { LearningRate = config.LearningRate, weight_decay = 0, beta1 = config.Beta1, beta2 = config.Beta2 }),
        };
        _optimizer = torch.optim.AdamW(groups, config.LearningRate, config.Beta1, config.Beta2, weight_decay: config.WeightDecay);
        _log($"model: {Spec.Layers} layers, dim {Spec.Dim}, {Spec.Heads} heads of {Spec.HeadDim}, ffn {Spec.FfnDim}, vocab {Spec.VocabSize}, context {Spec.ContextLength}: {Weights.ParameterCount:N0} parameters" +
             (Spec.Attention is { } v ? $"; {v.Describe(Spec)}" : ""));

        if (Checkpoint.Exists(CheckpointDir))
        {
            var state = Checkpoint.ReadState(CheckpointDir);
            // Re-serialise the saved config so that fields added to TrainConfig since (at their defaults) compare equal.
            var saved = System.Text.Json.JsonSerializer.Deserialize<TrainConfig>(state.ConfigJson, TrainConfig.Json);
            if (saved is null || saved.ToJson() != config.ToJson())
                throw new HeadWiseException($"{CheckpointDir} was made with a different config; use a new --out folder or delete the checkpoint");
            Checkpoint.Load(CheckpointDir, Weights, _optimizer);
            Step = state.Step;
            ElapsedBefore = state.ElapsedSeconds;
            _log($"resumed from step {Step}");
        }
        Log = new TrainLog(Path.Combine(outDir, "train-log.jsonl"), Step);
        Sinks = new JsonLines<SinkMeasure>(Path.Combine(outDir, "sinks.jsonl"), Step, m => m.Step);
    }

    /// <summary>One sample of each kind, decoded, with answers in [[ ]], so a user sees what the model learns from.</summary>
    private void WriteSamples(string path, LongContextTasks tasks)
    {
        var rng = new Random(_config.Seed);
        using var w = new StreamWriter(path);
        foreach (var kind in Enum.GetValues<SampleKind>())
        {
            var s = tasks.Make(kind, rng, Math.Min(_config.Curriculum[0].SeqLen, 512) + 1);
            w.WriteLine($"===== {kind} =====");
            if (s is null) { w.WriteLine("(does not fit)"); continue; }
            var sb = new System.Text.StringBuilder(Tokenizer.Decode(s.Tokens[..1]));
            for (int t = 1; t < s.Tokens.Length; t++)
            {
                bool answer = s.Answer[t - 1], prev = t > 1 && s.Answer[t - 2];
                if (answer && !prev) sb.Append("[[");
                if (!answer && prev) sb.Append("]]");
                sb.Append(Tokenizer.Decode(s.Tokens[t..(t + 1)]));
            }
            w.WriteLine(sb.ToString());
        }
    }

    public BpeVocabulary Vocabulary { get; }
    public Tokenizers.ByteLevelBpeTokenizer Tokenizer { get; }
    public TextCorpus Corpus { get; }
    public ModelSpec Spec { get; }
    public ModelWeights Weights { get; }
    public TrainLog Log { get; }
    /// <summary>The sink ratio measured every eval_every steps (sinks.jsonl).</summary>
    public JsonLines<SinkMeasure> Sinks { get; }
    /// <summary>The next step to run.</summary>
    public int Step { get; private set; }
    public double ElapsedBefore { get; }
    public string CheckpointDir => Path.Combine(_out, "checkpoint");
    public bool Finished => Step >= _config.Steps;

    /// <summary>
    /// Runs steps until the config's last step, <paramref name="stopAtStep"/> (exclusive), or max_minutes; saves a
    /// checkpoint every checkpoint_every steps and when it stops. Returns the training seconds so far (all sessions).
    /// </summary>
    public double Run(Action<TrainProgress>? progress = null, int? stopAtStep = null, CancellationToken cancel = default)
    {
        var sw = Stopwatch.StartNew();
        var process = Process.GetCurrentProcess();
        var cpuAtStart = process.TotalProcessorTime;
        double cpuBefore = Log.Steps.Count > 0 ? Log.Steps[^1].CpuSeconds : 0;
        int end = Math.Min(_config.Steps, stopAtStep ?? int.MaxValue);
        using var model = new Transformer(Spec, Weights) { Routing = _routing };   // borrows the parameters (the trainer owns them)
        long tokens = 0;
        while (Step < end && !cancel.IsCancellationRequested)
        {
            if (_config.MaxMinutes > 0 && ElapsedBefore + sw.Elapsed.TotalSeconds > _config.MaxMinutes * 60)
            {
                _log($"max_minutes ({_config.MaxMinutes}) reached at step {Step}");
                break;
            }
            if (_config.EvalEvery > 0 && Step % _config.EvalEvery == 0) MeasureSinks(model);
            var (loss, gradNorm, lr, rows, length) = TrainStep(model);
            tokens += (long)rows * length;
            double elapsed = ElapsedBefore + sw.Elapsed.TotalSeconds;
            process.Refresh();
            double cpu = cpuBefore + (process.TotalProcessorTime - cpuAtStart).TotalSeconds;
            Log.Add(new StepRecord(Step, loss, lr, gradNorm, length, rows, (long)rows * length, elapsed, cpu, LoadAverage()));
            Step++;
            progress?.Invoke(new TrainProgress(Step, _config.Steps, loss, lr, tokens / sw.Elapsed.TotalSeconds, elapsed));
            if (Step % _config.CheckpointEvery == 0 && Step < end) SaveCheckpoint(ElapsedBefore + sw.Elapsed.TotalSeconds);
        }
        double total = ElapsedBefore + sw.Elapsed.TotalSeconds;
        SaveCheckpoint(total);
        return total;
    }

    /// <summary>Measures the sink ratio on held-out text (no effect on training: no gradients, no random state).</summary>
    public SinkMeasure MeasureSinks(Transformer model)
    {
        var m = SinkMeter.Measure(model, Corpus.HeldOut, Vocabulary.BosId, Step);
        Sinks.Add(m);
        _log($"step {Step}: sink ratio {m.Ratio:0.00} ({m.RatioFromLayer1:0.00} in layers 1+; {m.SinkHeadsFromLayer1} of {m.HeadsFromLayer1} heads there at {SinkMeter.Epsilon} or more)");
        return m;
    }

    /// <summary>The 1-minute load average (Linux), to record what else the machine was doing; null elsewhere.</summary>
    private static double? LoadAverage()
    {
        try { return double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], System.Globalization.CultureInfo.InvariantCulture); }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or FormatException) { return null; }
    }

    private void SaveCheckpoint(double elapsed) =>
        Checkpoint.Save(CheckpointDir, Weights, _optimizer, new CheckpointState(Step, elapsed, _config.ToJson()));

    private (double Loss, double GradNorm, double Lr, int Rows, int Length) TrainStep(Transformer model)
    {
        using var scope = torch.NewDisposeScope();
        double lr = LrSchedule.At(Step, _config);
        foreach (var g in _optimizer.ParamGroups) g.LearningRate = lr;
        using var batch = _mixer.Batch(Step);
        _optimizer.zero_grad();
        var logits = Forward(model, batch.Inputs);
        var ce = F.cross_entropy(logits.reshape(-1, Spec.VocabSize).to(ScalarType.Float32), batch.Targets.reshape(-1), reduction: nn.Reduction.None);
        var w = batch.Weights.reshape(-1);
        var loss = (ce * w).sum() / w.sum();
        // MoH's load-balance loss joins the gradient; the logged loss stays the language-model loss, comparable across variants.
        var total = _routing?.TakeLoss() is { } balance && Spec.Attention is MixtureOfHeads moh
            ? loss.Plus(balance.mul(torch.tensor(moh.BalanceWeight)))
            : loss;
        total.backward();
        if (Environment.GetEnvironmentVariable("HEADWISE_DEBUG_GRADS") == "1" && Step % 20 == 0)
        {
            var l0 = Weights.Layers[0];
            string N(Tensor t) => $"{t.grad?.norm().item<float>() ?? -1:0.0e0}/{t.norm().item<float>():0.00}";
            _log($"step {Step} grad/weight: wq {N(l0.Wq)} wk {N(l0.Wk)} wv {N(l0.Wv)} wo {N(l0.Wo)} up {N(l0.WUp)} emb {N(Weights.TokenEmbedding)} out {N(Weights.Output!)}");
        }
        double norm = torch.nn.utils.clip_grad_norm_(Weights.All().Cast<Parameter>(), _config.GradClip);
        _optimizer.step();
        return (loss.item<float>(), norm, lr, batch.Rows, batch.SeqLen);
    }

    /// <summary>fp32: the model itself. bf16: the same forward on a bf16 copy of the weight matrices (norms stay
    /// float32, as when a bf16 model is loaded); gradients flow back to the fp32 masters.</summary>
    private Tensor Forward(Transformer model, Tensor inputs)
    {
        if (_config.Precision == Precision.Fp32) return model.Forward(inputs);
        var half = Weights.Select((_, t) => t.dim() >= 2 ? t.to(ScalarType.BFloat16) : t);
        return new Transformer(Spec with { Compute = ComputeDType.BF16 }, half) { Routing = _routing }.Forward(inputs);
    }

    /// <summary>A forward-only view of the current weights for probes and exports; do not dispose it (it shares the weights).</summary>
    public Transformer EvalModel() => new(Spec, Weights);

    public void Dispose()
    {
        _optimizer.Dispose();
        Weights.Dispose();
    }
}

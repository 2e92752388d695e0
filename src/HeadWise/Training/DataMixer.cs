using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Training;

/// <summary>One optimisation step's batch: inputs and targets [B, L] (int64), loss weights [B, L] (float32).</summary>
internal sealed class TrainingBatch : IDisposable
{
    public required Tensor Inputs { get; init; }
    public required Tensor Targets { get; init; }
    public required Tensor Weights { get; init; }
    public required SampleKind[] Kinds { get; init; }
    public int Rows => Kinds.Length;
    public int SeqLen => (int)Inputs.shape[1];
    public void Dispose() { Inputs.Dispose(); Targets.Dispose(); Weights.Dispose(); }
}

/// <summary>
/// Draws each step's batch from the config's mix of natural text and long-context tasks. A step's batch depends only
/// on (seed, step): resuming at step s continues the very stream an uninterrupted run would have read, with no
/// random-generator state to save.
/// </summary>
internal sealed class DataMixer
{
    private readonly TrainConfig _config;
    private readonly LongContextTasks _tasks;

    public DataMixer(TrainConfig config, LongContextTasks tasks)
    {
        _config = config;
        _tasks = tasks;
    }

    public CurriculumPhase PhaseAt(int step) => _config.Curriculum.Last(p => p.FromStep <= step);

    // A fixed arithmetic mix (HashCode.Combine is randomised per process, so it would break resuming).
    public static Random RandomFor(int seed, int step) => new(unchecked(seed * 1_000_003 + step * 7_919 + 17) & int.MaxValue);

    public TrainingBatch Batch(int step)
    {
        var phase = PhaseAt(step);
        var rng = RandomFor(_config.Seed, step);
        var mix = Weights(phase.Mix ?? _config.Mix);
        double repeatShare = phase.CopyRepeatShare ?? _config.CopyRepeatShare;
        var (b, l) = Shape(phase, rng);
        var inputs = new long[b * l];
        var targets = new long[b * l];
        var weights = new float[b * l];
        var kinds = new SampleKind[b];
        for (int i = 0; i < b; i++)
        {
            kinds[i] = Pick(mix, rng);
            var sample = _tasks.Make(kinds[i], rng, l + 1, copyRepeatShare: repeatShare);
            if (sample is null) { kinds[i] = SampleKind.Text; sample = _tasks.Make(SampleKind.Text, rng, l + 1)!; }
            for (int t = 0; t < l; t++)
            {
                inputs[i * l + t] = sample.Tokens[t];
                targets[i * l + t] = sample.Tokens[t + 1];
                weights[i * l + t] = sample.Weights[t];
            }
        }
        return new TrainingBatch
        {
            Inputs = torch.tensor(inputs, [b, l]),
            Targets = torch.tensor(targets, [b, l]),
            Weights = torch.tensor(weights, [b, l]),
            Kinds = kinds,
        };
    }

    /// <summary>Rows and length of a step: the phase's, or a length drawn from [min_seq_len, seq_len] with as many tokens.</summary>
    private static (int Rows, int Length) Shape(CurriculumPhase phase, Random rng)
    {
        if (phase.MinSeqLen is not { } min || min == phase.SeqLen) return (phase.Batch, phase.SeqLen);
        int length = min + rng.Next(phase.SeqLen - min + 1);
        return (Math.Max(1, (int)Math.Round((double)phase.Batch * phase.SeqLen / length)), length);
    }

    private static (SampleKind Kind, double Weight)[] Weights(TaskMix m) =>
        [(SampleKind.Text, m.Text), (SampleKind.Passkey, m.Passkey), (SampleKind.Niah, m.Niah), (SampleKind.KvRetrieval, m.KvRetrieval), (SampleKind.Copy, m.Copy)];

    private static SampleKind Pick((SampleKind Kind, double Weight)[] mix, Random rng)
    {
        double total = mix.Sum(m => m.Weight), r = rng.NextDouble() * total;
        foreach (var (kind, w) in mix)
        {
            if (r < w) return kind;
            r -= w;
        }
        return mix.Last(m => m.Weight > 0).Kind;
    }
}

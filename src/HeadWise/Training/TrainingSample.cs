namespace HeadWise.Training;

/// <summary>
/// One training sequence of L+1 tokens (inputs are the first L, targets the last L) and a loss weight per target.
/// Built from segments: fixed token runs (an answer run weighs more) and filler gaps that natural text fills.
/// </summary>
public sealed class TrainingSample
{
    public required int[] Tokens { get; init; }
    public required float[] Weights { get; init; }
}

/// <summary>Assembles a sample of an exact length from fixed segments and proportional filler gaps.</summary>
internal sealed class SampleBuilder
{
    private readonly List<(int[]? Ids, float Weight, double Share)> _segments = [];

    public int FixedLength { get; private set; }

    public SampleBuilder Add(IReadOnlyList<int> ids, float weight = 1)
    {
        _segments.Add((ids.ToArray(), weight, 0));
        FixedLength += ids.Count;
        return this;
    }

    /// <summary>A gap that takes <paramref name="share"/> of the tokens left over by the fixed segments.</summary>
    public SampleBuilder Gap(double share)
    {
        _segments.Add((null, 1, share));
        return this;
    }

    /// <summary>
    /// Fills the gaps from <paramref name="filler"/> so the sample holds exactly <paramref name="total"/> tokens;
    /// null when the fixed segments alone are longer (the task does not fit a sequence this short).
    /// </summary>
    public TrainingSample? Build(int total, Func<int, int[]> filler)
    {
        int free = total - FixedLength;
        if (free < 0) return null;
        double shares = _segments.Sum(s => s.Share);
        var tokens = new List<int>(total);
        var weights = new List<float>(total);
        int given = 0, gapsLeft = _segments.Count(s => s.Ids is null);
        foreach (var (ids, weight, share) in _segments)
        {
            if (ids is not null) { tokens.AddRange(ids); weights.AddRange(Enumerable.Repeat(weight, ids.Length)); continue; }
            int n = --gapsLeft == 0 ? free - given : (int)(free * share / shares);
            given += n;
            tokens.AddRange(filler(n));
            weights.AddRange(Enumerable.Repeat(1f, n));
        }
        if (tokens.Count != total) throw new InvalidOperationException($"sample has {tokens.Count} tokens, expected {total} (no gap to fill?)");
        // Weight k belongs to token k; the target of input position k is token k+1, so drop the first.
        return new TrainingSample { Tokens = tokens.ToArray(), Weights = weights.Skip(1).ToArray() };
    }
}

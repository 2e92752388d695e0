namespace HeadWise.Generation;

/// <summary>Picks the next token from logits: greedy at temperature 0, else temperature + nucleus (top-p) sampling, seeded.</summary>
public sealed class Sampler
{
    private readonly double _temperature, _topP;
    private readonly Random _random;

    /// <summary>A sampler: <paramref name="temperature"/> 0 is greedy; otherwise nucleus sampling over <paramref name="topP"/> of the mass, seeded by <paramref name="seed"/>.</summary>
    public Sampler(double temperature = 0, double topP = 1, int seed = 0)
    {
        if (!(temperature >= 0) || double.IsInfinity(temperature)) throw new HeadWiseException($"temperature must be >= 0, got {temperature}");
        if (!(topP > 0 && topP <= 1)) throw new HeadWiseException($"top-p must be in (0, 1], got {topP}");
        _temperature = temperature;
        _topP = topP;
        _random = new Random(seed);
    }

    /// <summary>The next token id for <paramref name="logits"/> (one row over the vocabulary).</summary>
    public int Next(ReadOnlySpan<float> logits)
    {
        CheckFinite(logits);
        if (_temperature == 0) return ArgMax(logits);
        var probs = new double[logits.Length];
        double max = double.NegativeInfinity;
        foreach (var l in logits) max = Math.Max(max, l);
        double sum = 0;
        for (int i = 0; i < logits.Length; i++) sum += probs[i] = Math.Exp((logits[i] - max) / _temperature);
        var order = Enumerable.Range(0, logits.Length).OrderByDescending(i => probs[i]).ToArray();
        // Smallest set of most likely tokens whose mass reaches top-p, then sample within it.
        double kept = 0;
        int n = 0;
        while (n < order.Length && kept < _topP * sum) kept += probs[order[n++]];
        double r = _random.NextDouble() * kept;
        for (int i = 0; i < n; i++)
        {
            r -= probs[order[i]];
            if (r <= 0) return order[i];
        }
        return order[n - 1];
    }

    /// <summary>NaN or infinite logits come from NaN/Inf weights in the file (or an overflow); no token can be picked from them.</summary>
    public static void CheckFinite(ReadOnlySpan<float> logits)
    {
        foreach (var l in logits)
            if (!float.IsFinite(l))
                throw new HeadWiseException($"the model's logits are not finite ({(float.IsNaN(l) ? "NaN" : l.ToString())}): its weights hold NaN or infinite values, or overflow");
    }

    /// <summary>The index of the largest logit (the first on ties).</summary>
    public static int ArgMax(ReadOnlySpan<float> logits)
    {
        int best = 0;
        for (int i = 1; i < logits.Length; i++) if (logits[i] > logits[best]) best = i;
        return best;
    }
}

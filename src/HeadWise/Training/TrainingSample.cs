namespace HeadWise.Training;

/// <summary>
/// One training sequence of L+1 tokens (inputs are the first L, targets the last L), a loss weight per target and which
/// targets are answers (the tokens a task asks for; probes and head checks score exactly these).
/// </summary>
internal sealed class TrainingSample
{
    public required int[] Tokens { get; init; }
    public required float[] Weights { get; init; }
    public required bool[] Answer { get; init; }

    /// <summary>Indices t of the inputs whose target (token t+1) is an answer token.</summary>
    public int[] AnswerPositions() => Enumerable.Range(0, Answer.Length).Where(t => Answer[t]).ToArray();
}

/// <summary>Assembles a sample of an exact length from fixed segments (context or answers) and proportional filler gaps.</summary>
internal sealed class SampleBuilder
{
    private readonly List<(int[]? Ids, float Weight, bool Answer, double Share)> _segments = [];

    public int FixedLength { get; private set; }

    /// <summary>Context tokens (loss weight 1).</summary>
    public SampleBuilder Add(IReadOnlyList<int> ids) => Fixed(ids, 1, false);

    /// <summary>Answer tokens: what the task asks for, weighing <paramref name="weight"/> in the loss.</summary>
    public SampleBuilder Answer(IReadOnlyList<int> ids, float weight) => Fixed(ids, weight, true);

    private SampleBuilder Fixed(IReadOnlyList<int> ids, float weight, bool answer)
    {
        _segments.Add((ids.ToArray(), weight, answer, 0));
        FixedLength += ids.Count;
        return this;
    }

    /// <summary>A gap that takes <paramref name="share"/> of the tokens left over by the fixed segments.</summary>
    public SampleBuilder Gap(double share)
    {
        _segments.Add((null, 1, false, share));
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
        var answers = new List<bool>(total);
        int given = 0, gapsLeft = _segments.Count(s => s.Ids is null);
        foreach (var (ids, weight, answer, share) in _segments)
        {
            var run = ids;
            if (run is null)
            {
                int n = --gapsLeft == 0 ? free - given : (int)(free * share / shares);
                given += n;
                run = filler(n);
            }
            tokens.AddRange(run);
            weights.AddRange(Enumerable.Repeat(weight, run.Length));
            answers.AddRange(Enumerable.Repeat(answer, run.Length));
        }
        if (tokens.Count != total) throw new InvalidOperationException($"sample has {tokens.Count} tokens, expected {total} (no gap to fill?)");
        // Entry k belongs to token k; the target of input position k is token k+1, so drop the first.
        return new TrainingSample { Tokens = [.. tokens], Weights = [.. weights.Skip(1)], Answer = [.. answers.Skip(1)] };
    }
}

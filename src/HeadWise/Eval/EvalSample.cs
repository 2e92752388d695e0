namespace HeadWise.Eval;

/// <summary>
/// One prompt of a task. <see cref="Tokens"/> are all fed to the model (the "prefill"): first the context
/// (Tokens[..ContextEnd]), then the question; predictions of Tokens[ScoredFrom..] are scored teacher-forced (copy,
/// perplexity); when <see cref="Answer"/> is set the model then decodes up to <see cref="MaxNewTokens"/> greedily and
/// the text is compared with it (passkey, niah, multikey).
/// </summary>
public sealed record EvalSample
{
    /// <summary>The prompt length asked for, in tokens (the grid row).</summary>
    public required int Length { get; init; }
    /// <summary>Needle depth asked for as a fraction of the haystack (the grid column); null for tasks without one.</summary>
    public double? Depth { get; init; }
    public required int[] Tokens { get; init; }
    /// <summary>
    /// Where the context ends and the question starts (a compressing cache compresses there under
    /// <c>--compress context</c>); null when the whole prompt is context.
    /// </summary>
    public int? ContextEnd { get; init; }
    /// <summary>First token whose prediction is scored; Tokens.Length when nothing is teacher-forced.</summary>
    public int ScoredFrom { get; init; }
    public string? Answer { get; init; }
    public int MaxNewTokens { get; init; }
    /// <summary>How generated text is compared with <see cref="Answer"/>.</summary>
    public AnswerScoring Scoring { get; init; } = AnswerScoring.ExactNumber;
    /// <summary>Token span of the haystack and where the needle starts (for tests and reports); -1 when not applicable.</summary>
    public int HaystackStart { get; init; } = -1;
    public int HaystackEnd { get; init; } = -1;
    public int NeedleStart { get; init; } = -1;
    /// <summary>Longest filler sentence in tokens: how far a needle can sit from the exact requested depth.</summary>
    public int MaxSentenceTokens { get; init; }
    /// <summary>Tokens of all needles together (distractors before the asked needle shift it by up to this).</summary>
    public int NeedleTokens { get; init; }
}

public enum AnswerScoring
{
    /// <summary>The first run of digits in the output equals the answer.</summary>
    ExactNumber,
    /// <summary>ROUGE-1 recall of the answer's words in the output.</summary>
    RougeRecall,
}

/// <summary>The grid and randomness a task generates its samples from.</summary>
public sealed record TaskOptions
{
    public required IReadOnlyList<int> Lengths { get; init; }
    /// <summary>Needle depths in [0, 1]; ignored by tasks without a needle.</summary>
    public IReadOnlyList<double> Depths { get; init; } = [0.5];
    public int Samples { get; init; } = 1;
    public int Seed { get; init; } = 1;
    /// <summary>Natural text for haystacks and perplexity (niah, multikey, perplexity).</summary>
    public string? HaystackPath { get; init; }
}

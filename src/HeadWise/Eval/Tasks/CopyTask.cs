using HeadWise.Tokenizers;

namespace HeadWise.Eval.Tasks;

/// <summary>
/// `copy`: BOS + a random token sequence + the same sequence again; accuracy is greedy next-token accuracy over the
/// repeat. Length counts the whole prompt, so each copy is (length - BOS) / 2 tokens. With <see cref="Shuffled"/> the
/// second half is a permutation of the first: a control that a model cannot copy, so high accuracy there means leakage.
/// </summary>
public sealed class CopyTask(bool shuffled = false) : IEvalTask
{
    public bool Shuffled { get; } = shuffled;
    public string Name => Shuffled ? "copy-shuffled" : "copy";
    public bool HasDepth => false;

    public IReadOnlyList<EvalSample> Generate(ITokenizer tokenizer, TaskOptions options)
    {
        var bos = new SegmentEncoder(tokenizer).Bos();
        var pool = Enumerable.Range(0, tokenizer.VocabSize)
            .Where(id => id != tokenizer.BosId && id != tokenizer.EosId && IsText(tokenizer.Decode([id]))).ToArray();
        if (pool.Length < 2) throw new HeadWiseException("the vocabulary has too few ordinary tokens for the copy task");
        return TaskGrid.Expand(options, false, (length, _, rng) =>
        {
            int n = (length - bos.Length) / 2;
            if (n < 2) throw new HeadWiseException($"length {length} is too short for task {Name} (need at least {bos.Length + 4})");
            var seq = Enumerable.Range(0, n).Select(_ => pool[rng.Next(pool.Length)]).ToArray();
            var second = Shuffled ? seq.OrderBy(_ => rng.Next()).ToArray() : seq;
            // The context is the first copy; the repeat is scored after it (under --compress context, after compression).
            return new EvalSample { Length = length, Tokens = [.. bos, .. seq, .. second], ContextEnd = bos.Length + n, ScoredFrom = bos.Length + n };
        });
    }

    // Ordinary text pieces only: byte-fallback and control tokens are not what a model learned to copy.
    private static bool IsText(string piece) =>
        piece.Trim().Length > 0 && !piece.Contains('\uFFFD') && !piece.Any(char.IsControl);
}

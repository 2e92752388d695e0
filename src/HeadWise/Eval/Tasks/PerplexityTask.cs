using HeadWise.Tokenizers;

namespace HeadWise.Eval.Tasks;

/// <summary>`perplexity`: a stretch of natural text of the given length; every token after the first is scored.</summary>
public sealed class PerplexityTask : IEvalTask
{
    public string Name => "perplexity";
    public bool HasDepth => false;
    public bool HasContext => false;

    public IReadOnlyList<EvalSample> Generate(ITokenizer tokenizer, TaskOptions options)
    {
        var text = SentenceSource.FromFile(options.HaystackPath ?? throw new HeadWiseException("task perplexity needs a text file (--haystack)"));
        var enc = new SegmentEncoder(tokenizer);
        var bos = enc.Bos();
        return TaskGrid.Expand(options, false, (length, _, rng) =>
        {
            if (length < bos.Length + 2) throw new HeadWiseException($"length {length} is too short for task {Name}");
            var tokens = new List<int>(bos);
            for (int i = rng.Next(text.Count); tokens.Count < length; i++)
                tokens.AddRange(text.Tokens(enc, i).Take(length - tokens.Count));
            return new EvalSample { Length = length, Tokens = [.. tokens], ScoredFrom = Math.Max(1, bos.Length) };
        });
    }
}

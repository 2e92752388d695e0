using HeadWise.Tokenizers;

namespace HeadWise.Eval.Tasks;

/// <summary>What a needle task hides and asks for one sample.</summary>
public sealed record NeedlePrompt(string Prefix, IReadOnlyList<Needle> Needles, string Question, string Answer);

/// <summary>
/// Shared shape of passkey, niah and multikey: instructions, a haystack with needles at chosen depths, a question
/// that ends where the answer should begin; the model's greedy continuation is scored against the answer.
/// </summary>
public abstract class NeedleTask : IEvalTask
{
    public abstract string Name { get; }
    public bool HasDepth => true;
    protected abstract AnswerScoring Scoring { get; }
    public abstract int AnswerTokens { get; }
    protected abstract SentenceSource Filler(TaskOptions options);
    protected internal abstract NeedlePrompt Make(Random rng, double depth);

    public IReadOnlyList<EvalSample> Generate(ITokenizer tokenizer, TaskOptions options)
    {
        var filler = Filler(options);
        var enc = new SegmentEncoder(tokenizer);
        return TaskGrid.Expand(options, true, (length, depth, rng) =>
        {
            // Retry in the rare case the filler happens to contain the answer too, so it is present exactly once.
            for (int attempt = 0; ; attempt++)
            {
                var p = Make(rng, depth!.Value);
                var built = HaystackBuilder.Build(enc, filler, rng.Next(filler.Count), length, p.Prefix, p.Needles, p.Question, Name);
                if (attempt < 20 && TaskGrid.Count(tokenizer.Decode(built.Tokens), p.Answer) != 1) continue;
                return new EvalSample
                {
                    Length = length, Depth = depth, Tokens = built.Tokens, ContextEnd = built.HaystackEnd, ScoredFrom = built.Tokens.Length,
                    Answer = p.Answer, MaxNewTokens = AnswerTokens, Scoring = Scoring,
                    HaystackStart = built.HaystackStart, HaystackEnd = built.HaystackEnd, NeedleStart = built.NeedleStarts[0],
                    MaxSentenceTokens = built.MaxSentenceTokens, NeedleTokens = built.NeedleTokens,
                };
            }
        });
    }

    protected static SentenceSource TextFile(TaskOptions o, string task) =>
        SentenceSource.FromFile(o.HaystackPath ?? throw new HeadWiseException($"task {task} needs a haystack text file (--haystack)"));
}

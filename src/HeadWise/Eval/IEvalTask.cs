using HeadWise.Tokenizers;

namespace HeadWise.Eval;

/// <summary>A long-context task: makes seeded prompts of exact token lengths for one tokenizer.</summary>
public interface IEvalTask
{
    string Name { get; }
    /// <summary>Whether the task places a needle (so the grid has a depth axis).</summary>
    bool HasDepth { get; }
    /// <summary>Tokens the model may generate after a prompt (the answer's room); 0 for tasks scored on the prompt itself.</summary>
    int AnswerTokens => 0;
    /// <summary>
    /// Whether prompts split into a context and what follows it (<see cref="EvalSample.ContextEnd"/>), so a cache can
    /// compress once the context is in; false for tasks that score every token as it streams in (perplexity).
    /// </summary>
    bool HasContext => true;
    /// <summary>Samples for every length (x depth) x sample index; the same options give the same samples.</summary>
    IReadOnlyList<EvalSample> Generate(ITokenizer tokenizer, TaskOptions options);
}

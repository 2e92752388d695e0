using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// A bench grid's checks at their exact edges (issue 23: Stryker's boundary and message mutants): the last valid value
/// passes, the first invalid one fails naming it. A model with a 64-token context; passkey answers in up to 10 tokens.
/// </summary>
public class EvalArgumentBoundaryTests
{
    private static readonly ModelSpec Spec = new()
    {
        Architecture = "llama", Layers = 1, Dim = 8, Heads = 1, KvHeads = 1, HeadDim = 8, FfnDim = 8, VocabSize = 32, ContextLength = 64,
    };

    private static string Error(string task, TaskOptions o, CompressMode compress = CompressMode.Chunked, long? limit = null) =>
        Assert.Throws<HeadWiseException>(() => BenchRunner.Validate(Spec, TaskRegistry.Create(task), o, compress, limit)).Message;

    private static void Valid(string task, TaskOptions o, CompressMode compress = CompressMode.Chunked, long? limit = null) =>
        BenchRunner.Validate(Spec, TaskRegistry.Create(task), o, compress, limit);

    [Fact]
    public void Lengths_run_from_one_token_to_the_context_less_the_answer()
    {
        Valid("passkey", new TaskOptions { Lengths = [1, 54] });
        Assert.Equal("give at least one length", Error("passkey", new TaskOptions { Lengths = [] }));
        Assert.Equal("length 0 must be >= 1 token", Error("passkey", new TaskOptions { Lengths = [5, 0] }));
        Assert.Equal("length 55 leaves no room for the answer: task passkey generates up to 10 tokens and the limit is the model's context of 64 tokens; use prompts of at most 54 tokens",
            Error("passkey", new TaskOptions { Lengths = [55] }));
        Assert.Equal("length 65 exceeds the model's context of 64 tokens", Error("passkey", new TaskOptions { Lengths = [65] }));
    }

    [Fact]
    public void A_policy_limit_above_the_context_is_named_as_the_policys()
    {
        Valid("passkey", new TaskOptions { Lengths = [190] }, limit: 200);
        Assert.Equal("length 201 exceeds this policy's limit of 200 tokens", Error("passkey", new TaskOptions { Lengths = [201] }, limit: 200));
        Assert.Contains("use prompts of at most 190 tokens", Error("passkey", new TaskOptions { Lengths = [191] }, limit: 200));
        // A limit equal to the context is the model's context.
        Assert.Equal("length 65 exceeds the model's context of 64 tokens", Error("passkey", new TaskOptions { Lengths = [65] }, limit: 64));
    }

    [Fact]
    public void Depths_run_from_zero_to_one_and_only_tasks_with_a_depth_need_one()
    {
        Valid("passkey", new TaskOptions { Lengths = [40], Depths = [0, 1] });
        Valid("copy", new TaskOptions { Lengths = [40], Depths = [] });
        Assert.Equal("task passkey needs at least one depth", Error("passkey", new TaskOptions { Lengths = [40], Depths = [] }));
        Assert.Equal("depth -0.01 is outside [0, 1]", Error("passkey", new TaskOptions { Lengths = [40], Depths = [0.5, -0.01] }));
        Assert.Equal("depth 1.01 is outside [0, 1]", Error("passkey", new TaskOptions { Lengths = [40], Depths = [1.01] }));
        Assert.Equal("depth NaN is outside [0, 1]", Error("passkey", new TaskOptions { Lengths = [40], Depths = [double.NaN] }));
    }

    [Fact]
    public void Samples_start_at_one()
    {
        Valid("copy", new TaskOptions { Lengths = [40], Samples = 1 });
        Assert.Equal("samples must be >= 1, got 0", Error("copy", new TaskOptions { Lengths = [40], Samples = 0 }));
    }

    [Fact]
    public void A_task_without_a_context_compresses_only_in_chunks()
    {
        Valid("perplexity", new TaskOptions { Lengths = [40] }, CompressMode.Chunked);
        Valid("copy", new TaskOptions { Lengths = [40] }, CompressMode.Context);
        Assert.Equal("task perplexity scores every token as it streams in and has no context to compress once; use --compress chunked",
            Error("perplexity", new TaskOptions { Lengths = [40] }, CompressMode.Context));
        Assert.Contains("use --compress chunked", Error("perplexity", new TaskOptions { Lengths = [40] }, CompressMode.Question));
    }
}

using HeadWise.Eval;
using HeadWise.KvCache;
using HeadWise.Models;

namespace HeadWise.Tests.Eval;

/// <summary>
/// Issue 23 (Stryker's survivors in SampleRunner): what the harness hands the cache, recorded call by call: the cache is
/// made for prompt + answer tokens; the prompt goes in prefill chunks up to the compression point; scored tokens go in
/// chunks of <see cref="SampleRunner.ScoredChunk"/> (32) where the cache may evict between them (after the compression
/// point, or all along when chunked); an answer is decoded one token per forward, the last token never fed.
/// Expected call lists are written by hand from that rule. stories260K: context 2048, prefill chunk 512.
/// </summary>
public class HarnessChunkingTests
{
    private static readonly Lazy<LoadedModel> Stories = new(() => ModelLoader.Load(TestPaths.Stories260KGguf));

    // Copy of length 401: BOS + 200 + 200; the context ends and scoring starts at 201, so position 200 predicts the
    // first scored token. Before the scored part the prefill stops at 200 so that position is fed with the scored ones.
    [Theory]
    [InlineData(CompressMode.Context, new long[] { 200, 1, 32, 32, 32, 32, 32, 32, 8 }, 201)]
    [InlineData(CompressMode.Question, new long[] { 200, 201 }, 401)]
    [InlineData(CompressMode.Chunked, new long[] { 200, 32, 32, 32, 32, 32, 32, 9 }, 401)]
    public void Copy_prompts_reach_the_cache_in_the_chunks_the_protocol_names(CompressMode mode, long[] advances, long compressedAt)
    {
        var m = Stories.Value;
        Assert.Equal(2048, m.Spec.ContextLength);
        var factory = new RecordingFactory(mode);
        var o = new TaskOptions { Lengths = [401], Samples = 1, Seed = 3 };
        BenchRunner.Run(m, TaskRegistry.Create("copy"), o, factory);
        Assert.Equal([401], factory.ContextTokens);
        Assert.Equal(advances, factory.Advances);
        Assert.Equal([compressedAt], factory.CompressedAt);
    }

    /// <summary>
    /// Passkey (answers in up to 10 tokens): context, then the question in one call, then one call per generated token
    /// but the last (its prediction is never needed), and none after an end-of-sequence token.
    /// </summary>
    [Fact]
    public void An_answer_is_decoded_one_token_per_call_and_the_cache_is_sized_for_prompt_and_answer()
    {
        var m = Stories.Value;
        var task = TaskRegistry.Create("passkey");
        var o = new TaskOptions { Lengths = [120], Depths = [0.5], Samples = 1, Seed = 2 };
        var s = task.Generate(m.Tokenizer, o)[0];
        int n = s.Tokens.Length, c = s.ContextEnd!.Value;
        Assert.Equal(120, n);
        int generated = HarnessIndependentCheckTests.GreedyByFullForwards(m, s.Tokens, s.MaxNewTokens).Count;
        bool stoppedAtEos = generated < s.MaxNewTokens;
        var factory = new RecordingFactory(CompressMode.Context);
        var r = BenchRunner.Run(m, task, o, factory);
        Assert.Equal([120 + 10], factory.ContextTokens);
        long[] decode = [.. Enumerable.Repeat(1L, stoppedAtEos ? generated : generated - 1)];
        Assert.Equal([c, n - c, .. decode], factory.Advances);
        Assert.Equal([(long)c], factory.CompressedAt);
        Assert.Equal(m.Tokenizer.Decode(HarnessIndependentCheckTests.GreedyByFullForwards(m, s.Tokens, s.MaxNewTokens)), r.Answers![0].Output);
    }

    /// <summary>A full cache that records what the harness asks of it: the size it is made for, each forward call's new positions, where it compresses.</summary>
    internal sealed class RecordingFactory(CompressMode mode) : WatchedFullCacheFactory(mode)
    {
        public readonly List<int> ContextTokens = [];
        public readonly List<long> Advances = [];
        public readonly List<long> CompressedAt = [];

        public override IKvCache Create(LoadedModel model, int contextTokens)
        {
            ContextTokens.Add(contextTokens);
            return base.Create(model, contextTokens);
        }

        protected override IKvCache Wrap(FullKvCache cache) => new Recording(cache, this);
    }

    private sealed class Recording(FullKvCache inner, RecordingFactory f) : WatchedFullCache(inner)
    {
        public override void Advance(long t) { f.Advances.Add(t); Inner.Advance(t); }
        public override void Compress() => f.CompressedAt.Add(Inner.Length);
    }
}

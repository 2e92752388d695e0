using HeadWise.Generation;
using HeadWise.Heads;
using HeadWise.Heads.Interventions;
using HeadWise.KvCache;
using HeadWise.Models;
using TorchSharp;
using Xunit.Abstractions;

namespace HeadWise.Tests.Generation;

/// <summary>
/// Hooks during generation on stories260K: every prefill and decode step runs them, so the cached generation equals a
/// reference that re-runs the whole sequence through the hooked forward pass for every new token (no cache).
/// </summary>
public class GenerationHooksTests(ITestOutputHelper output)
{
    private const string Prompt = "Once upon a time, there was a little girl named Lily. She loved to play outside. One day, her mom said, \"";
    private const int NewTokens = 20;

    /// <summary>Greedy decoding by full forward passes, one per token: the reference the cached generator must match.</summary>
    private static List<int> ForwardByForward(LoadedModel m, IReadOnlyList<int> prompt, int n, HookSet? hooks)
    {
        var ids = prompt.ToList();
        var output = new List<int>();
        for (int i = 0; i < n; i++)
        {
            using var scope = torch.NewDisposeScope();
            var tokens = torch.tensor(ids.Select(t => (long)t).ToArray(), [1, ids.Count]);
            var logits = hooks is null ? m.Transformer.Forward(tokens) : m.Transformer.RunWithHooks(tokens, hooks);
            int next = Sampler.ArgMax(logits[0, -1].data<float>().ToArray());
            if (next == m.Tokenizer.EosId) break;
            output.Add(next);
            ids.Add(next);
        }
        return output;
    }

    [Fact]
    public void Ablating_a_head_changes_generation_and_matches_the_forward_by_forward_reference()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var prompt = m.Tokenizer.Encode(Prompt, addBos: true);
        var ablate = new HookSet().Add(HeadAblation.Zero(4, 2)); // the head that copies the name (README: DLA 1.24)
        var plain = new Generator(m.Transformer).Generate(prompt, NewTokens, new Sampler(), m.Tokenizer.EosId);
        var ablated = new Generator(m.Transformer) { Hooks = ablate }.Generate(prompt, NewTokens, new Sampler(), m.Tokenizer.EosId);
        output.WriteLine("plain:   " + m.ToText(plain));
        output.WriteLine("ablated: " + m.ToText(ablated));
        Assert.NotEqual(plain, ablated);
        Assert.Equal(ForwardByForward(m, prompt, NewTokens, null), plain);
        Assert.Equal(ForwardByForward(m, prompt, NewTokens, ablate), ablated);
    }

    [Fact]
    public void Steering_holds_at_every_decode_step_and_matches_the_reference()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var prompt = m.Tokenizer.Encode("Once upon a time", addBos: true);
        // ActAdd: the residual difference between two one-word prompts, added at layer 2.
        var at = HookNames.ForLayer(2).ResidPre;
        using var scope = torch.NewDisposeScope();
        var (_, dog) = m.Transformer.RunWithCache(m.ToTokens(" dog"), [at]);
        var (_, girl) = m.Transformer.RunWithCache(m.ToTokens(" girl"), [at]);
        using var a = dog; using var b = girl;
        var vector = dog[at][0, -1] - girl[at][0, -1];
        using var steer = new SteeringVector(at, vector, 4.0);
        var hooks = new HookSet().Add(steer);
        var plain = new Generator(m.Transformer).Generate(prompt, NewTokens, new Sampler(), m.Tokenizer.EosId);
        var steered = new Generator(m.Transformer) { Hooks = hooks }.Generate(prompt, NewTokens, new Sampler(), m.Tokenizer.EosId);
        output.WriteLine("plain:   " + m.ToText(plain));
        output.WriteLine("steered: " + m.ToText(steered));
        Assert.NotEqual(plain, steered);
        Assert.Equal(ForwardByForward(m, prompt, NewTokens, hooks), steered);
    }

    [Fact]
    public void Pattern_hooks_under_a_compressing_cache_are_one_clear_error()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        var hooks = new HookSet().Add(HookNames.ForLayer(0).Pattern, p => p);
        var policy = KvPolicies.Create("streaming", KvBudget.Parse("0.5"), m.Spec);
        var e = Assert.Throws<HeadWiseException>(() =>
            new Generator(m.Transformer) { Hooks = hooks }.Generate(m.Tokenizer.Encode("Once upon a time", addBos: true), 4, new Sampler(), null, policy: policy));
        Assert.Contains("compressing KV cache", e.Message);
    }

    [Fact]
    public void ToTokens_and_ToStrTokens_agree_with_the_tokenizer()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        using var scope = torch.NewDisposeScope();
        var tokens = m.ToTokens("Once upon a time");
        var ids = m.Tokenizer.Encode("Once upon a time", addBos: true);
        Assert.Equal(new long[] { 1, ids.Count }, tokens.shape);
        Assert.Equal(ids.Select(i => (long)i), tokens[0].data<long>().ToArray());
        var pieces = m.ToStrTokens("Once upon a time");
        Assert.Equal(ids.Count, pieces.Length);
        Assert.Equal(m.ToStrTokens(tokens), pieces);
        // The pieces spell the text: BOS, then SentencePiece pieces whose '▁' marks a space.
        Assert.Equal("<s>", pieces[0]);
        Assert.Equal(" Once upon a time", string.Concat(pieces.Skip(1)).Replace('▁', ' '));
        Assert.Equal(ids.Count - 1, m.ToTokens("Once upon a time", prependBos: false).shape[1]);
    }
}

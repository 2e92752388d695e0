using HeadWise.Generation;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using TorchSharp;
using Xunit.Abstractions;

namespace HeadWise.Tests.Models;

/// <summary>
/// bf16 compute (16-bit weights, bf16 matrix products, float32 norms, softmax statistics and logits) against float32
/// on the same checkpoints: greedy tokens, logit KL divergence, KV-cache dtype and bytes.
/// </summary>
public class Bf16ParityTests(ITestOutputHelper output)
{
    /// <summary>
    /// Mean and largest over positions of KL(softmax(f32) || softmax(bf16)), in nats, per model. bf16 keeps 8
    /// significant bits, so each weight and each bf16 activation (q, k, v, the products' outputs in a one-shot forward)
    /// moves by up to 2^-9 of itself. The trained models' attention is soft and these shifts stay small: measured means
    /// 1.8e-4 (stories260K, TinyStories-656K), largest 2.0e-3; bound 1e-3 and 1e-2. The random GQA Llama's q and k
    /// weights are scaled so that q.k/sqrt(d) reaches tens (near one-hot attention), where a 2^-9 shift of a score moves
    /// attention weights by percent: measured mean 3.4e-3, largest 3.2e-2; bound 1e-2 and 1e-1.
    /// </summary>
    private static (double Mean, double Max) KlBound(string name) => name == "random-gqa" ? (1e-2, 1e-1) : (1e-3, 1e-2);

    public static TheoryData<string> Models => new() { "stories260K", "tinystories656K", "random-gqa" };

    private static string PathOf(string name) => name switch
    {
        "stories260K" => TestPaths.Stories260KGguf,
        "tinystories656K" => TestPaths.TinyStories656K,
        _ => RandomGqa.Value,
    };

    private static readonly Lazy<string> RandomGqa = new(() =>
        RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir("bf16"), "random.gguf"), new RandomLlamaConfig()));

    [Theory, MemberData(nameof(Models))]
    public void Greedy_tokens_and_logits_follow_float32(string name)
    {
        using var f32 = ModelLoader.Load(PathOf(name), new LoadOptions { DType = ComputeDType.F32 });
        using var bf16 = ModelLoader.Load(PathOf(name), new LoadOptions { DType = ComputeDType.BF16 });
        Assert.Equal(torch.ScalarType.BFloat16, bf16.Transformer.Weights.Layers[0].Wq.dtype);
        Assert.Equal(torch.ScalarType.Float32, f32.Transformer.Weights.Layers[0].Wq.dtype);

        int[] prompt = name == "random-gqa" ? [1, 400, 300, 500] : [.. f32.Tokenizer.Encode("Once upon a time", addBos: true)];
        var a = new Generator(f32.Transformer).Generate(prompt, 80, new Sampler(0), eos: null);
        var b = new Generator(bf16.Transformer).Generate(prompt, 80, new Sampler(0), eos: null);
        int same = a.Zip(b).TakeWhile(p => p.First == p.Second).Count();
        // KL over the float32 run's own continuation (so both see the same inputs).
        int[] tokens = [.. prompt, .. a];
        using var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        using var lf = f32.Transformer.Forward(ids);
        using var lb = bf16.Transformer.Forward(ids);
        // How far bf16 moves a logit on these inputs: two candidates closer than twice this are a tie bf16 may break.
        double perturbation = (lf - lb).abs().max().item<float>();
        var topF = lf[0].topk(2).values.data<float>().ToArray();   // [T, 2] row-major
        double Margin(int position) => topF[2 * position] - topF[2 * position + 1];
        string where = same < a.Count ? $"; at the first difference float32's top two are {Margin(prompt.Length - 1 + same):g3} apart" : "";
        output.WriteLine($"{name}: greedy tokens equal for {same} of {a.Count}{where}; largest logit difference {perturbation:g3}");
        // Teacher-forced on float32's continuation, every position's bf16 choice is float32's unless that was a tie.
        var argF = lf[0].argmax(-1).data<long>().ToArray();
        var argB = lb[0].argmax(-1).data<long>().ToArray();
        for (int t = prompt.Length - 1; t < tokens.Length; t++)
            Assert.True(argF[t] == argB[t] || Margin(t) <= 2 * perturbation,
                $"{name}: at position {t} bf16 picks {argB[t]} over float32's {argF[t]}, whose margin {Margin(t):g3} exceeds 2 x {perturbation:g3}");
        // Free-running: the trained models keep float32's greedy story for at least 60 tokens. The random model's logits
        // have no preferred continuation (top-two gaps of a few 1e-2 come every few tokens, below bf16's perturbation):
        // there the free-running count is reported, and each divergence must be such a tie (checked above).
        if (name != "random-gqa")
            Assert.True(same >= 60, $"{name}: bf16 greedy decoding leaves float32's after {same} tokens{where}");
        else if (same < a.Count)
            Assert.True(Margin(prompt.Length - 1 + same) <= 2 * perturbation, $"{name}: the first difference is not a tie{where}");
        Assert.Equal(torch.ScalarType.Float32, lb.dtype);   // logits come out in float32
        using var pf = torch.nn.functional.log_softmax(lf.to(torch.ScalarType.Float64), -1);
        using var pb = torch.nn.functional.log_softmax(lb.to(torch.ScalarType.Float64), -1);
        using var kl = (pf.exp() * (pf - pb)).sum(-1).squeeze(0);   // [T]
        double mean = kl.mean().item<double>(), max = kl.max().item<double>();
        output.WriteLine($"{name}: KL(f32 || bf16) mean {mean:g3}, max {max:g3} nats over {tokens.Length} positions");
        var bound = KlBound(name);
        Assert.True(mean <= bound.Mean, $"{name}: mean KL {mean:g3} > {bound.Mean}");
        Assert.True(max <= bound.Max, $"{name}: max KL {max:g3} > {bound.Max}");
    }

    [Fact]
    public void Kv_caches_store_bf16_and_count_two_bytes()
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf, new LoadOptions { DType = ComputeDType.BF16 });
        var s = m.Spec;
        int[] prompt = [1, 400, 300, 500, 20, 31];
        // The full cache and a compressed one (policy "full": every head keeps everything) decode alike in bf16.
        using var full = new FullKvCache(s);
        var plain = new Generator(m.Transformer).Generate(full, prompt, 20, new Sampler(0), eos: null);
        Assert.Equal((long)s.Layers * s.KvHeads * full.Length * s.HeadDim * 2 * 2, full.Bytes);
        using var headwise = new HeadWiseKvCache(s, KvPolicies.Create("full", KvBudget.All, s), CompressMode.Chunked);
        var viaPolicy = new Generator(m.Transformer).Generate(headwise, prompt, 20, new Sampler(0), eos: null);
        Assert.Equal(plain, viaPolicy);
        Assert.Equal(full.Bytes, headwise.Bytes);
        using var streaming = new HeadWiseKvCache(s, KvPolicies.Create("streaming", KvBudget.Parse("0.5"), s), CompressMode.Chunked);
        new Generator(m.Transformer).Generate(streaming, prompt, 20, new Sampler(0), eos: null);
        Assert.True(streaming.Bytes < full.Bytes);
        Assert.Equal(streaming.KeptPositions(0, 0).Length * (long)s.HeadDim * 2 * 2 * s.Layers * s.KvHeads, streaming.Bytes);
    }
}

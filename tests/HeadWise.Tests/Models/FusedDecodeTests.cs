using HeadWise.Heads;
using HeadWise.KvCache;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using TorchSharp;
using Xunit.Abstractions;

namespace HeadWise.Tests.Models;

/// <summary>
/// The fused decode step against the general forward pass (an empty hook set sends a step there) on the same model and
/// inputs: logits of 12 greedy decode steps after a prompt, and the keys and values both leave in their caches, bit for bit. Adjacent-pair RoPE (stories260K, the random GQA Llama) and halves (TinyStories-656K), float32 and bf16.
/// </summary>
public class FusedDecodeTests(ITestOutputHelper output)
{
    private static readonly Lazy<string> RandomGqa = new(() =>
        RandomLlamaGguf.Write(Path.Combine(TestPaths.NewTempDir("fused"), "random.gguf"), new RandomLlamaConfig()));

    public static TheoryData<string, ComputeDType> Cases => new()
    {
        { "stories260K", ComputeDType.F32 }, { "stories260K", ComputeDType.BF16 },
        { "tinystories656K", ComputeDType.F32 }, { "tinystories656K", ComputeDType.BF16 },
        { "random-gqa", ComputeDType.F32 }, { "random-gqa", ComputeDType.BF16 },
    };

    [Theory, MemberData(nameof(Cases))]
    public void Matches_the_general_forward_pass(string name, ComputeDType dtype)
    {
        string path = name switch { "stories260K" => TestPaths.Stories260KGguf, "tinystories656K" => TestPaths.TinyStories656K, _ => RandomGqa.Value };
        using var loaded = ModelLoader.Load(path, new LoadOptions { DType = dtype });
        var model = loaded.Transformer;
        using var fused = new FullKvCache(model.Spec, 64);
        using var general = new FullKvCache(model.Spec, 64);
        using var scope = torch.NewDisposeScope();
        using (var prompt = torch.tensor(new long[] { 1, 40, 30, 50, 7 }, [1, 5]))
        {
            model.Forward(prompt, fused);
            model.Forward(prompt, general);
        }
        var noHooks = new HookSet();
        long token = 60;
        double worst = 0, scale = 0;
        for (int step = 0; step < 12; step++)
        {
            using var ids = torch.tensor(new[] { token }, [1, 1]);
            Assert.True(FusedDecode.Applies(model.Spec, model.Weights, model.Rope, ids, fused, null)); // the test is not vacuous
            var a = model.Forward(ids, fused);
            var b = model.Forward(ids, general, noHooks);
            Assert.Equal(b.shape, a.shape);
            Assert.Equal(torch.ScalarType.Float32, a.dtype);
            worst = Math.Max(worst, (a - b).abs().max().item<float>());
            scale = Math.Max(scale, b.abs().max().item<float>());
            token = a.argmax().item<long>();
        }
        Assert.Equal(general.Length, fused.Length);
        double kv = 0;
        for (int l = 0; l < model.Spec.Layers; l++)
        {
            using var empty = torch.zeros(1, model.Spec.KvHeads, 0, model.Spec.HeadDim, dtype: dtype.ScalarType());
            var (ka, va) = fused.Append(l, empty, empty);
            var (kb, vb) = general.Append(l, empty, empty);
            kv = Math.Max(kv, Math.Max((ka - kb).abs().max().to(torch.ScalarType.Float32).item<float>(), (va - vb).abs().max().to(torch.ScalarType.Float32).item<float>()));
        }
        output.WriteLine($"{name} {dtype}: largest logit difference {worst:g3} (largest logit {scale:g3}); largest K/V difference {kv:g3}");
        // The general path runs a one-token step through the same kernels (products, attention, norms, RoPE, SwiGLU)
        // and the same roundings: bit for bit, so that observing a decode step with hooks never changes it.
        Assert.Equal(0, worst);
        Assert.Equal(0, kv);
    }
}

using HeadWise.Training;
using TorchSharp;

namespace HeadWise.Tests.Training;

public class ModelInitTests
{
    [Fact]
    public void Initialisation_has_the_gpt2_scales_and_the_optional_shared_embedding_offset()
    {
        var c = TinyTraining.Config() with { Layers = 4, Dim = 64, Heads = 4, FfnDim = 128 };
        var spec = ModelInit.Spec(c, 1000);
        Assert.Equal(spec.Heads, spec.KvHeads);
        Assert.Equal(global::HeadWise.Models.RopeLayout.Interleaved, spec.Rope);
        using var w = ModelInit.Random(spec, seed: 3);
        Assert.Equal(0.02, w.Layers[0].Wq.std().item<float>(), 3);
        Assert.Equal(0.02 / Math.Sqrt(8), w.Layers[2].Wo.std().item<float>(), 3);
        Assert.Equal(1f, w.OutputNorm!.min().item<float>());
        Assert.All(w.All(), t => Assert.True(t.requires_grad));

        using var shifted = ModelInit.Random(spec, seed: 3, embeddingOffset: 0.5);
        // Averaging 1000 embeddings leaves the shared vector (the random parts shrink to 0.02 * sqrt(64 / 1000)).
        double meanNorm = shifted.TokenEmbedding.mean([0]).norm().item<float>();
        Assert.InRange(meanNorm, 0.49, 0.51);
        Assert.InRange(w.TokenEmbedding.mean([0]).norm().item<float>(), 0, 0.01);
    }
}

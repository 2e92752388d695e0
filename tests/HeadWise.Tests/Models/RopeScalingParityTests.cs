using System.Text.Json.Nodes;
using HeadWise.Formats.Gguf;
using HeadWise.Models;
using HeadWise.Tests.Fixtures;
using HeadWise.Tests.Oracles;
using TorchSharp;

namespace HeadWise.Tests.Models;

/// <summary>
/// RoPE scaling against llama.cpp (issue 23): a Hugging Face Llama folder with rope_scaling "linear" or "llama3" (Llama 3.1's),
/// converted to GGUF by HeadWise as llama.cpp's converter does (linear: rope.scaling.* keys; llama3: the rope_freqs tensor
/// of per-frequency divisors). llama.cpp's logits on the GGUF match HeadWise's on the folder, and HeadWise reads the GGUF
/// back to the same logits. The scaled model must differ from the unscaled one, or the comparison would prove nothing.
/// </summary>
public class RopeScalingParityTests
{
    // Head size 16 and theta 500000 give wavelengths 6.3, 33, 169, 881, ... tokens. With an original context of 64, low 1
    // and high 4, llama3 keeps the first frequency (6.3 < 16), ramps the second (16..64) and divides the rest by 8.
    [Theory]
    [InlineData("""{"type": "linear", "factor": 4.0}""")]
    [InlineData("""{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}""")]
    public void Scaled_rope_matches_llama_cpp_on_the_converted_gguf(string ropeScaling)
    {
        var root = TestPaths.NewTempDir("rope");
        var plain = RandomHfCheckpoint.Write(Path.Combine(root, "plain"), "llama", seed: 4);
        var scaled = RandomHfCheckpoint.Write(Path.Combine(root, "scaled"), "llama", seed: 4);
        var configPath = Path.Combine(scaled, "config.json");
        var config = JsonNode.Parse(File.ReadAllText(configPath))!;
        config["rope_scaling"] = JsonNode.Parse(ropeScaling);
        File.WriteAllText(configPath, config.ToJsonString());
        var gguf = Path.Combine(root, "scaled.gguf");
        GgufConverter.Convert(scaled, gguf);

        var rng = new Random(9);
        var tokens = Enumerable.Range(0, 160).Select(_ => rng.Next(0, 200)).ToArray();
        float[] hf, unscaled, back, cpp;
        using (var m = ModelLoader.Load(scaled)) { Assert.NotNull(m.Spec.RopeScaling); hf = Logits(m.Transformer, tokens); }
        using (var m = ModelLoader.Load(plain)) unscaled = Logits(m.Transformer, tokens);
        using (var m = ModelLoader.Load(gguf)) back = Logits(m.Transformer, tokens);
        using (var oracle = new LlamaCpp(gguf, 256)) cpp = oracle.Logits(tokens).SelectMany(x => x).ToArray();

        if (ropeScaling.Contains("llama3"))
            using (var file = GgufFile.Open(gguf))
            {
                var expected = Llama3Divisors(headDim: 16, theta: 500000, factor: 8, low: 1, high: 4, original: 64);
                var written = file.ReadFloats(GgufModelSpec.RopeFreqsTensor);
                Assert.Equal(expected.Length, written.Length);
                for (int i = 0; i < expected.Length; i++) Assert.Equal(expected[i], written[i], 1e-5);
                Assert.Equal(1.0, written[0], 1e-9); // the three branches are all taken
                Assert.InRange(written[1], 1.01, 7.99);
                Assert.Equal(8.0, written[^1], 1e-9);
            }
        Assert.True(MaxDiff(hf, unscaled) > 1e-2, $"scaling changed the logits by only {MaxDiff(hf, unscaled):g3}");
        Assert.True(MaxDiff(hf, cpp) <= 1e-3, $"HeadWise (HF folder) vs llama.cpp (GGUF): {MaxDiff(hf, cpp):g3}");
        Assert.True(MaxDiff(hf, back) <= 1e-4, $"HeadWise on its GGUF vs on the folder: {MaxDiff(hf, back):g3}");
    }

    /// <summary>transformers' _compute_llama3_parameters, written out: the new inverse frequencies, as divisors of the old.</summary>
    private static float[] Llama3Divisors(int headDim, double theta, double factor, double low, double high, double original)
    {
        var divisors = new float[headDim / 2];
        for (int i = 0; i < divisors.Length; i++)
        {
            double freq = 1 / Math.Pow(theta, 2.0 * i / headDim), wavelen = 2 * Math.PI / freq, scaledFreq;
            if (wavelen < original / high) scaledFreq = freq;
            else if (wavelen > original / low) scaledFreq = freq / factor;
            else
            {
                double smooth = (original / wavelen - low) / (high - low);
                scaledFreq = (1 - smooth) * freq / factor + smooth * freq;
            }
            divisors[i] = (float)(freq / scaledFreq);
        }
        return divisors;
    }

    private static float[] Logits(Transformer model, int[] tokens)
    {
        using var scope = torch.NewDisposeScope();
        var ids = torch.tensor(tokens.Select(t => (long)t).ToArray(), [1, tokens.Length]);
        return model.Forward(ids).reshape(-1).data<float>().ToArray();
    }

    private static double MaxDiff(float[] a, float[] b)
    {
        Assert.Equal(a.Length, b.Length);
        double max = 0;
        for (int i = 0; i < a.Length; i++) max = Math.Max(max, Math.Abs(a[i] - b[i]));
        return max;
    }
}

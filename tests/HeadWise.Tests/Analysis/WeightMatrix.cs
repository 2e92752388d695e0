using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Analysis;

/// <summary>Weights of constructed models filled element by element in managed memory (a tensor indexer per element is
/// slow), then made one tensor.</summary>
internal sealed class WeightMatrix(int rows, int cols)
{
    private readonly float[] _data = new float[rows * cols];
    public float this[int r, int c] { set => _data[r * cols + c] = value; }
    public Tensor Tensor() => torch.tensor(_data, [rows, cols]);

    /// <summary>One-hot token and position embeddings of the constructed models: every token sets the constant dimension
    /// and either the BOS flag or its own dimension at <paramref name="tok"/> + id; position p sets <paramref name="pos"/> + p.</summary>
    public static (WeightMatrix Embed, WeightMatrix Positions) OneHotEmbeddings(int? bosId, int v, int t, int dim, int tok, int pos, int constant, int bos)
    {
        var embed = new WeightMatrix(v, dim);
        for (int id = 0; id < v; id++)
        {
            embed[id, constant] = 1;
            if (id == bosId) embed[id, bos] = 1; else embed[id, tok + id] = 1;
        }
        var positions = new WeightMatrix(t, dim);
        for (int p = 0; p < t; p++) positions[p, pos + p] = 1;
        return (embed, positions);
    }
}

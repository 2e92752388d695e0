using HeadWise.Models;
using TorchSharp;

namespace HeadWise.Tests.Models;

/// <summary>A token id outside the vocabulary (library callers pass ids directly) is one HeadWise error naming the id,
/// not libtorch's native index error; the last valid id still runs.</summary>
public class TokenIdRangeTests
{
    [Theory]
    [InlineData(512L)]
    [InlineData(-1L)]
    public void Out_of_vocabulary_ids_are_refused_by_name(long bad)
    {
        using var m = ModelLoader.Load(TestPaths.Stories260KGguf);
        Assert.Equal(512, m.Spec.VocabSize);
        using var ids = torch.tensor(new long[] { 1, bad }, torch.int64).unsqueeze(0);
        var e = Assert.Throws<HeadWiseException>(() => m.Transformer.Forward(ids).Dispose());
        Assert.Equal($"token id {bad} is outside the model's table of 512", e.Message);
        using var ok = torch.tensor(new long[] { 1, 511 }, torch.int64).unsqueeze(0);
        using var logits = m.Transformer.Forward(ok);
        Assert.Equal(new long[] { 1, 2, 512 }, logits.shape);
    }
}

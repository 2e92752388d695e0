using HeadWise.Models;
using HeadWise.Runtime;
using TorchSharp;
using static TorchSharp.torch;

namespace HeadWise.Tests.Models;

/// <summary>
/// Tensors carved from one block (what the loader now reads weights into): the shapes asked for, contiguous, each on
/// its own 64-byte-aligned stretch in order, independent to write, and alive until each view is disposed. Whether the
/// kernel backs the block with huge pages depends on the machine, so only the layout is asserted here.
/// </summary>
public unsafe class HugePagesTests
{
    [Theory]
    [InlineData(ScalarType.Float32, 4)]
    [InlineData(ScalarType.BFloat16, 2)]
    public void Block_gives_contiguous_aligned_disjoint_tensors_in_order(ScalarType dtype, int elementSize)
    {
        HeadWise.Runtime.Torch.EnsureStarted();
        long[][] shapes = [[3, 5], [7], [2, 2, 33], [1]];
        var tensors = HugePages.Block(shapes, dtype);
        Assert.Equal(shapes.Length, tensors.Length);
        long previousEnd = 0;
        for (int i = 0; i < shapes.Length; i++)
        {
            Assert.Equal(shapes[i], tensors[i].shape);
            Assert.Equal(dtype, tensors[i].dtype);
            Assert.True(tensors[i].is_contiguous());
            long start = (long)TensorMemory.Address<byte>(tensors[i]);
            Assert.Equal(0, start % 64);
            Assert.True(start >= previousEnd, $"tensor {i} starts inside tensor {i - 1}");
            if (i > 0) Assert.True(start - previousEnd < 64, $"tensor {i} is not packed after tensor {i - 1}");
            previousEnd = start + tensors[i].numel() * elementSize;
            tensors[i].fill_(i + 1);
        }
        for (int i = 0; i < shapes.Length; i++)
            Assert.All(tensors[i].to(ScalarType.Float32).data<float>().ToArray(), v => Assert.Equal(i + 1, v));

        // Disposing some views leaves the others' memory intact.
        tensors[0].Dispose();
        tensors[2].Dispose();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        Assert.All(tensors[1].to(ScalarType.Float32).data<float>().ToArray(), v => Assert.Equal(2, v));
        Assert.All(tensors[3].to(ScalarType.Float32).data<float>().ToArray(), v => Assert.Equal(4, v));
        tensors[1].Dispose();
        tensors[3].Dispose();
    }

    [Theory]
    [InlineData(ComputeDType.F32)]
    [InlineData(ComputeDType.BF16)]
    public void Loaded_weights_lie_in_one_block_per_dtype_in_the_layout_order(ComputeDType dtype)
    {
        using var loaded = ModelLoader.Load(TestPaths.Stories260KGguf, new LoadOptions { DType = dtype });
        var byName = loaded.Transformer.Weights.Named().ToDictionary(n => n.Name, n => n.Tensor);
        var inOrder = TensorLayout.For(loaded.Transformer.Spec).Where(s => byName.ContainsKey(s.Name)).Select(s => byName[s.Name]).ToList();
        Assert.Equal(byName.Count, inOrder.Count);
        foreach (var group in inOrder.GroupBy(t => t.dtype))
        {
            var tensors = group.ToList();
            Assert.True(tensors.Count > 1);
            for (int i = 1; i < tensors.Count; i++)
            {
                long end = (long)TensorMemory.Address<byte>(tensors[i - 1]) + tensors[i - 1].numel() * tensors[i - 1].ElementSize;
                long gap = (long)TensorMemory.Address<byte>(tensors[i]) - end;
                Assert.True(gap is >= 0 and < 64, $"{group.Key} tensor {i}: {gap} bytes after the previous one");
            }
        }
        Assert.Equal(dtype == ComputeDType.BF16 ? 2 : 1, inOrder.Select(t => t.dtype).Distinct().Count());
    }
}

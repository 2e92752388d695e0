using System.Text.Json.Nodes;
using HeadWise.Analysis;
using HeadWise.Formats.Safetensors;
using HeadWise.Heads;
using HeadWise.Reports;
using TorchSharp;

namespace HeadWise.Tests.Heads;

/// <summary>Exports for Python users: activations as safetensors (names and shapes of the hook points), the atlas as CSV.</summary>
public class ActivationExportTests
{
    [Fact]
    public void Saved_activations_read_back_with_their_hook_names_shapes_and_values()
    {
        using var model = TinyModels.Build("llama");
        using var scope = torch.NewDisposeScope();
        var (_, c) = model.RunWithCache(TinyModels.Tokens(7), n => n.EndsWith("attn.hook_pattern") || n == HookNames.Embed);
        using var cache = c;
        var path = Path.Combine(TestPaths.NewTempDir(), "acts.safetensors");
        cache.Save(path, new Dictionary<string, string> { ["prompt"] = "x" });
        using var file = SafetensorsFile.Open(path);
        Assert.Equal(cache.Names.Order(), file.Names.Order());
        Assert.Equal("x", file.Metadata["prompt"]);
        foreach (var name in cache.Names)
        {
            Assert.Equal(cache[name].shape, file.Shape(name));
            var back = new float[cache[name].numel()];
            file.ReadFloats(name, back);
            Assert.Equal(cache[name].contiguous().data<float>().ToArray(), back);
        }
        Assert.Equal(new long[] { 1, 4, 7, 7 }, file.Shape(HookNames.ForLayer(1).Pattern));
    }

    [Fact]
    public void The_atlas_csv_has_one_row_per_head_and_one_column_per_map()
    {
        var atlas = new HeadAtlas { Model = "m", Layers = 2, Heads = 4, KvHeads = 2, Params = new JsonObject() };
        atlas.Add(new HeadMap("sink", [[0.5, 0.25, 1, 0], [0.125, 2, 3, 4]]));
        atlas.Add(new HeadMap("entropy", [[1, 2, 3, 4], [5, 6, 7, double.NaN]]));
        var path = Path.Combine(TestPaths.NewTempDir(), "atlas.csv");
        AtlasReport.WriteCsv(atlas, path);
        var lines = File.ReadAllLines(path);
        Assert.Equal("layer,head,kv_head,sink,entropy", lines[0]);
        Assert.Equal(9, lines.Length);
        Assert.Equal("0,1,0,0.25,2", lines[2]);
        Assert.Equal("1,2,1,3,7", lines[7]);
        Assert.Equal("1,3,1,4,", lines[8]); // a missing value is an empty cell
    }
}

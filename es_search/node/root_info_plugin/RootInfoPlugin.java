/*
 * Why this exists: the local development node is the `integ-test-zip` distribution of Elasticsearch,
 * which leaves out the `rest-root` module, so `GET /` answers 405. Clients ask `GET /` first: the
 * Python client's `info()`, eland's version check, and a plain `curl 127.0.0.1:9200`. This plugin,
 * built from this one file by es_search/node/plugin.py when the node is set up, answers `GET /` and
 * `HEAD /` with the usual root document (node and cluster names, cluster UUID, version and build details).
 *
 * It only reads the node's in-memory cluster state, so it needs no entitlements (no files, no network).
 */
package esimagesearch.rootinfo;

import org.elasticsearch.Build;
import org.elasticsearch.client.internal.node.NodeClient;
import org.elasticsearch.cluster.ClusterState;
import org.elasticsearch.cluster.node.DiscoveryNodes;
import org.elasticsearch.cluster.service.ClusterService;
import org.elasticsearch.features.NodeFeature;
import org.elasticsearch.index.IndexVersion;
import org.elasticsearch.index.analysis.TokenFilterFactory;
import org.elasticsearch.index.analysis.TokenizerFactory;
import org.elasticsearch.indices.analysis.AnalysisModule.AnalysisProvider;
import org.elasticsearch.plugins.ActionPlugin;
import org.elasticsearch.plugins.AnalysisPlugin;
import org.elasticsearch.plugins.Plugin;
import org.elasticsearch.rest.BaseRestHandler;
import org.elasticsearch.rest.RestHandler;
import org.elasticsearch.rest.RestRequest;
import org.elasticsearch.rest.RestResponse;
import org.elasticsearch.rest.RestStatus;
import org.elasticsearch.xcontent.XContentBuilder;

import java.io.IOException;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Predicate;
import java.util.function.Supplier;

public final class RootInfoPlugin extends Plugin implements ActionPlugin, AnalysisPlugin {

    // Set when the node builds its components, which happens before it serves any request.
    private volatile ClusterService clusterService;

    @Override
    public Collection<?> createComponents(PluginServices services) {
        clusterService = services.clusterService();
        return List.of();
    }

    // The analysis the `.security` index (SecurityIndexAnalysis.java) and the image index's Chinese text
    // (CjkAnalysis.java) need and this distribution lacks.
    @Override
    public Map<String, AnalysisProvider<TokenFilterFactory>> getTokenFilters() {
        Map<String, AnalysisProvider<TokenFilterFactory>> filters = new HashMap<>(SecurityIndexAnalysis.tokenFilters());
        filters.putAll(CjkAnalysis.tokenFilters());
        return filters;
    }

    @Override
    public Map<String, AnalysisProvider<TokenizerFactory>> getTokenizers() {
        Map<String, AnalysisProvider<TokenizerFactory>> tokenizers = new HashMap<>(SecurityIndexAnalysis.tokenizers());
        tokenizers.putAll(CjkAnalysis.tokenizers());
        return tokenizers;
    }

    @Override
    public Collection<RestHandler> getRestHandlers(
        RestHandlersServices services,
        Supplier<DiscoveryNodes> nodesInCluster,
        Predicate<NodeFeature> clusterSupportsFeature
    ) {
        return List.of(new RootInfoHandler(() -> clusterService));
    }

    /** Serves `GET /` and `HEAD /`; the HTTP layer drops the body for HEAD. */
    static final class RootInfoHandler extends BaseRestHandler {

        private final Supplier<ClusterService> clusterService;

        RootInfoHandler(Supplier<ClusterService> clusterService) {
            this.clusterService = clusterService;
        }

        @Override
        public String getName() {
            return "local_root_info_action";
        }

        @Override
        public List<Route> routes() {
            return List.of(new Route(RestRequest.Method.GET, "/"), new Route(RestRequest.Method.HEAD, "/"));
        }

        @Override
        public boolean canTripCircuitBreaker() {
            return false; // a few hundred bytes; it must answer even when the node is short of memory
        }

        @Override
        protected RestChannelConsumer prepareRequest(RestRequest request, NodeClient client) {
            return channel -> {
                XContentBuilder builder = channel.newBuilder();
                if (request.hasParam("pretty") == false) {
                    builder.prettyPrint().lfAtEnd(); // the root document is read by people: pretty unless asked not
                }
                writeRootDocument(builder, clusterService.get());
                channel.sendResponse(new RestResponse(RestStatus.OK, builder));
            };
        }

        private static void writeRootDocument(XContentBuilder builder, ClusterService service) throws IOException {
            ClusterState state = service.state();
            Build build = Build.current();
            builder.startObject();
            builder.field("name", service.getNodeName());
            builder.field("cluster_name", service.getClusterName().value());
            builder.field("cluster_uuid", state.metadata().clusterUUID());
            builder.startObject("version");
            builder.field("number", build.qualifiedVersion());
            builder.field("build_flavor", build.flavor());
            builder.field("build_type", build.type().displayName());
            builder.field("build_hash", build.hash());
            builder.field("build_date", build.date());
            builder.field("build_snapshot", build.isSnapshot());
            builder.field("lucene_version", IndexVersion.current().luceneVersion().toString());
            builder.field("minimum_wire_compatibility_version", build.minWireCompatVersion());
            builder.field("minimum_index_compatibility_version", build.minIndexCompatVersion());
            builder.endObject();
            builder.field("tagline", "You Know, for Search");
            builder.endObject();
        }
    }
}

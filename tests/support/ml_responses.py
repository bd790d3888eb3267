"""Trained model API responses as documented (get stats, get models, _infer, _license, error bodies), written out
literally: the offline parsing tests and the stand-in ML node answer with them."""

MODEL_ID = "sentence-transformers__clip-vit-b-32-multilingual-v1"

STATS_STARTED = {
    "count": 1,
    "trained_model_stats": [{
        "model_id": MODEL_ID,
        "model_size_stats": {"model_size_bytes": 539_000_000, "required_native_memory_bytes": 1_340_000_000},
        "pipeline_count": 0,
        "inference_stats": {"failure_count": 0, "inference_count": 12, "cache_miss_count": 0,
                            "missing_all_fields_count": 0, "timestamp": 1_718_000_000_000},
        "deployment_stats": {
            "deployment_id": MODEL_ID, "model_id": MODEL_ID, "threads_per_allocation": 1,
            "number_of_allocations": 1, "queue_capacity": 1024, "state": "started",
            "allocation_status": {"allocation_count": 1, "target_allocation_count": 1, "state": "fully_allocated"},
            "cache_size": "539mb", "priority": "normal", "start_time": 1_718_000_000_000,
            "inference_count": 12, "peak_throughput_per_minute": 12,
            "nodes": [{
                "node": {"a1b2c3": {"name": "ml-0", "ephemeral_id": "e1", "transport_address": "10.0.0.5:9300",
                                    "attributes": {"ml.machine_memory": "17179869184"}, "roles": ["ml"]}},
                "routing_state": {"routing_state": "started"},
                "inference_count": 12, "average_inference_time_ms": 21.4, "number_of_allocations": 1,
                "threads_per_allocation": 1, "start_time": 1_718_000_000_000,
            }],
        },
    }],
}
STATS_STARTING = {"count": 1, "trained_model_stats": [{
    "model_id": MODEL_ID, "pipeline_count": 0,
    "deployment_stats": {"deployment_id": MODEL_ID, "model_id": MODEL_ID, "state": "starting",
                         "allocation_status": {"allocation_count": 0, "target_allocation_count": 1, "state": "starting"},
                         "nodes": [{"routing_state": {"routing_state": "starting"}}]},
}]}
STATS_FAILED = {"count": 1, "trained_model_stats": [{
    "model_id": MODEL_ID,
    "deployment_stats": {"deployment_id": MODEL_ID, "model_id": MODEL_ID, "state": "starting",
                         "allocation_status": {"allocation_count": 0, "target_allocation_count": 1, "state": "starting"},
                         "nodes": [{"routing_state": {"routing_state": "failed",
                                                      "reason": "not enough memory on node [ml-0]"}}]},
}]}
STATS_NOT_DEPLOYED = {"count": 1, "trained_model_stats": [{
    "model_id": MODEL_ID, "model_size_stats": {"model_size_bytes": 539_000_000, "required_native_memory_bytes": 0},
    "pipeline_count": 0,
    "inference_stats": {"failure_count": 0, "inference_count": 0, "cache_miss_count": 0,
                        "missing_all_fields_count": 0, "timestamp": 1_718_000_000_000},
}]}
# Two deployments of one model (8.8+ deployment ids): one started is enough.
STATS_TWO_DEPLOYMENTS = {"count": 2, "trained_model_stats": [
    {"model_id": MODEL_ID, "deployment_stats": {"deployment_id": "for-ingest", "model_id": MODEL_ID, "state": "stopping"}},
    {"model_id": MODEL_ID, "deployment_stats": {"deployment_id": "for-search", "model_id": MODEL_ID, "state": "started"}},
]}
MODEL_CONFIG = {"count": 1, "trained_model_configs": [{
    "model_id": MODEL_ID, "model_type": "pytorch", "created_by": "api_user", "version": "12.0.0",
    "description": "Model sentence-transformers/clip-ViT-B-32-multilingual-v1 for task type 'text_embedding'",
    "input": {"field_names": ["text_field"]}, "fully_defined": True, "location": {"index": {"name": ".ml-inference-native-000002"}},
    "inference_config": {"text_embedding": {
        "vocabulary": {"index": ".ml-inference-native-000002"},
        "tokenization": {"bert": {"do_lower_case": False, "with_special_tokens": True, "max_sequence_length": 128,
                                  "truncate": "first", "span": -1}},
        "embedding_size": 512}},
}]}
INFER_ONE = {"inference_results": [{"predicted_value": [0.25, -1.5, 3.0, 0.0]}]}
INFER_TWO_TRUNCATED = {"inference_results": [{"predicted_value": [1.0, 2.0, 2.0, 0.0]},
                                             {"predicted_value": [0.0, 0.0, 3.0, 4.0], "is_truncated": True}]}
INFER_DOC_ERROR = {"inference_results": [{"predicted_value": [1.0, 0.0]},
                                         {"error": "inference process crashed due to reason [out of memory]"}]}
ERROR_NOT_FOUND = {"error": {"root_cause": [{"type": "resource_not_found_exception",
                                             "reason": f"Could not find trained model [{MODEL_ID}]"}],
                             "type": "resource_not_found_exception",
                             "reason": f"Could not find trained model [{MODEL_ID}]"}, "status": 404}
ERROR_NOT_ALLOCATED = {"error": {"root_cause": [{"type": "status_exception",
                                                 "reason": f"Trained model deployment [{MODEL_ID}] is not allocated to any nodes"}],
                                 "type": "status_exception",
                                 "reason": f"Trained model deployment [{MODEL_ID}] is not allocated to any nodes"}, "status": 409}
ERROR_LICENCE = {"error": {"root_cause": [{"type": "security_exception", "reason": "current license is non-compliant for [ml]",
                                           "license.expired.feature": "ml"}],
                           "type": "security_exception", "reason": "current license is non-compliant for [ml]",
                           "license.expired.feature": "ml"}, "status": 403}
ERROR_NO_HANDLER = {"error": "no handler found for uri [/_ml/info] and method [GET]"}
LICENCE_BASIC = {"license": {"status": "active", "uid": "39e5", "type": "basic", "issue_date": "2024-01-01T00:00:00.000Z",
                             "issue_date_in_millis": 1_704_067_200_000, "max_nodes": 1000, "max_resource_units": None,
                             "issued_to": "my-cluster", "issuer": "elasticsearch", "start_date_in_millis": -1}}
